# The two set-up commands: `make demo` and `make test`. Each builds what it needs.
.PHONY: demo test bootstrap services lint bench clean

demo:
	scripts/bootstrap.sh main
	rm -f example/demo.sqlite3
	.venvs/py311-dj52/bin/python example/manage.py demo

test:
	scripts/bootstrap.sh all
	scripts/services.sh || [ "$$CI" != "true" ]
	python3 scripts/run_tests.py $(ARGS)

bootstrap:
	scripts/bootstrap.sh all

services:
	scripts/services.sh

lint:
	.venvs/py311-dj52/bin/ruff check src tests example benchmarks scripts
	.venvs/py311-dj52/bin/ruff format --check src tests example benchmarks scripts
	.venvs/py311-dj52/bin/mypy
	PYTHONPATH=src .venvs/py311-dj52/bin/lint-imports
	.venvs/py311-dj52/bin/python scripts/code_shape.py

clean:
	rm -rf .venvs .test-results .cache example/demo.sqlite3 example/media
