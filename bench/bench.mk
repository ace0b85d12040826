# Benchmarks (included from the root Makefile). VENV comes from there.
VENV ?= $(CURDIR)/.venv
BENCH_ARGS ?=

.PHONY: bench-overhead

bench-overhead:       ## gateway overhead vs direct vs nginx (bench/overhead/README.md)
	$(VENV)/bin/python bench/overhead/run.py $(BENCH_ARGS)
