#!/usr/bin/env bash
# Every test: lint and types, then the backend suite against SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lint.sh
cd gateway
../.venv/bin/pytest "$@"
