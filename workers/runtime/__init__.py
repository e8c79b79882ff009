"""What every actor runs on: the Dramatiq broker (:mod:`workers.runtime.broker`), its
middleware, what an actor runs with (:mod:`workers.runtime.actor_context`) and the dead
letters. It knows no actor."""
