# The two commands of the README: `make demo` runs the main job, `make test` every check.
.PHONY: setup demo test check

setup:
	./scripts/setup

demo: setup
	.venv/bin/contact-sync demo

test: setup
	./scripts/check

check:
	./scripts/check
