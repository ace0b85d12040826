#!/usr/bin/env bash
# Every test: lint and types, the backend suite against SQLite and PostgreSQL, the web UI's
# unit tests, and the browser end-to-end tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lint.sh
scripts/frontend.sh lint
scripts/frontend.sh test
(cd gateway && ../.venv/bin/pytest -p no:logging "$@")
scripts/frontend.sh e2e
