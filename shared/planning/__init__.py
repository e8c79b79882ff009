"""What a batch will do, decided from Redis state alone (no Klaviyo call, nothing written):
the planner (:mod:`.planner`) and what it needs (:mod:`.claims`, :mod:`.clearing`,
:mod:`.consent_wish`), and the dry run of an account's next batch (:mod:`.dry_run`). The
batch (:mod:`workers.push.plan.stream`), ``contact-sync preview --next`` and the account
API's ``GET /v1/accounts/{a}/syncs/next`` all plan through it."""
