# The two commands of the README: `make demo` runs the main job, `make test` every check.
.PHONY: setup demo test test-fast check

setup:
	./scripts/setup

demo: setup
	.venv/bin/contact-sync demo

test:
	./scripts/setup --test-tools
	./scripts/check

# The fast lane (about a minute): lint, types, and the tests that start no process of the
# service (shared code, the sandbox, the planner, scheduler and collector on a real Redis).
test-fast:
	./scripts/setup --test-tools
	./scripts/check tests/shared tests/sandbox tests/test_openapi_contract.py \
		tests/workers/test_batch_lifecycle.py \
		tests/workers/test_scheduler.py tests/workers/test_due_accounts.py \
		tests/workers/test_collector.py tests/workers/reverse/test_schedule.py \
		tests/workers/test_actor_imports.py

check:
	./scripts/check
