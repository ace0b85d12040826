#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/../gateway"
../.venv/bin/ruff check src tests migrations
../.venv/bin/ruff format --check src tests migrations
../.venv/bin/mypy src
