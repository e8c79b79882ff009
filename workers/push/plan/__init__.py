"""What a batch will do, decided from Redis state alone (no Klaviyo call) by
:mod:`shared.planning.planner`, written a slice at a time as chunks:
:mod:`workers.push.plan.stream` runs it."""
