#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/../gateway"
../.venv/bin/ruff check src tests migrations
../.venv/bin/ruff format --check src tests migrations
../.venv/bin/mypy src
# The benchmark scripts follow the same rules (bench/ruff.toml extends the gateway's).
cd ..
.venv/bin/ruff check bench
.venv/bin/ruff format --check bench
