# Benchmarks (included from the root Makefile, which defines VENV, `setup` and `dev`).
VENV ?= $(CURDIR)/.venv
BENCH_PY := $(VENV)/bin/python
BENCH_ARGS ?=
# `make bench` keeps the overhead run to about 3 minutes on 2 cores (4 paths × 4 levels ×
# 2 rounds × 3 s, plus warm-ups and start-up); `make bench-overhead` uses run.py's defaults.
BENCH_OVERHEAD_ARGS ?= --levels 1,10,50,200 --rounds 2 --duration 3 --quiet-wait 30
BENCH_EMBEDDED_ARGS ?=
BENCH_VLLM_ARGS ?=

LITELLM_VENV := $(CURDIR)/.venv-litellm
UV := $(shell command -v uv || echo $(HOME)/.local/bin/uv)

.PHONY: bench bench-overhead bench-embedded bench-litellm bench-vllm

bench: dev bench-litellm  ## every benchmark, bounded, then rewrite docs/benchmarks.md and its plots
	$(BENCH_PY) bench/overhead/run.py $(BENCH_OVERHEAD_ARGS)
	$(BENCH_PY) bench/embedded/run.py $(BENCH_EMBEDDED_ARGS)
	$(BENCH_PY) bench/publish.py

bench-overhead: dev ## gateway overhead vs direct vs nginx vs nginx+TLS (bench/overhead/README.md)
	$(BENCH_PY) bench/overhead/run.py $(BENCH_ARGS)

bench-embedded: dev ## the embedded engine end to end (bench/embedded/)
	$(BENCH_PY) bench/embedded/run.py $(BENCH_EMBEDDED_ARGS)

bench-vllm: vllm      ## real vLLM (CPU build): KPIs against direct, static vs engine-aware admission
	$(BENCH_PY) bench/vllm/run.py $(BENCH_VLLM_ARGS)

# The LiteLLM proxy for path E, in its own environment (pinned with hashes; not a gateway
# dependency). `make bench-overhead` uses it when it exists.
bench-litellm: $(LITELLM_VENV)/bin/litellm

$(LITELLM_VENV)/bin/litellm: bench/litellm/requirements.txt | setup
	$(UV) venv --quiet --allow-existing --python python3 $(LITELLM_VENV)
	$(UV) pip install --quiet --python $(LITELLM_VENV)/bin/python --require-hashes -r $<
	touch $@

# Reliability (docs/reliability.md): the production topology as local processes, faults
# against it, and a long run. Each starts its own PostgreSQL, Redis and nginx (under
# data/stack/), never the machine's, and stops everything it started.
STACK_PY := cd gateway && $(VENV)/bin/python -m tests.utils.stack
CHAOS_ARGS ?=
SOAK_MINUTES ?= 30

.PHONY: stack stack-down chaos soak

stack: setup $(if $(filter 1,$(STACK_VLLM)),vllm) ## nginx (TLS) -> 2 gateway replicas -> PostgreSQL, Redis, supervisor; Ctrl-C stops
	$(STACK_PY) up

stack-down:           ## stop what `make stack` started (from data/stack/stack.json)
	$(STACK_PY) down

chaos: setup          ## 20 streams, one fault at a time; bench/results/chaos-*.json, docs/reliability.md
	$(STACK_PY) chaos $(CHAOS_ARGS)

soak: setup           ## SOAK_MINUTES (30) at 10 streams, 20 % leaving; RSS, files, connections, slots
	$(STACK_PY) soak --minutes $(SOAK_MINUTES)
