#!/usr/bin/env bash
# Every test: lint and types, the backend suite against SQLite and PostgreSQL, the web UI's
# unit tests, and the browser end-to-end tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/lint.sh
scripts/frontend.sh lint
scripts/frontend.sh test
# The deploy tests run a real nginx in front of an SSE server (Debian's package).
command -v nginx >/dev/null || { [ "$(id -u)" = 0 ] && apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
(cd gateway && ../.venv/bin/pytest -p no:logging --durations=25 "$@")
scripts/frontend.sh e2e
