#!/usr/bin/env bash
# The README's first screenshot: the packaged model on llama.cpp answering a Korean question
# in the Korean web UI (docs/screenshots/chat-real-ko.png). Reproducible: a temporary data
# directory (its own SQLite, the installed models linked in), the repository's profiles,
# headless Debian Chromium through playwright-core (as the browser tests).
#   scripts/screenshots.sh            needs `make setup` (the models) and /usr/bin/chromium
#   GPUCHAT_SHOT_QUESTION='...'       another question
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
"$ROOT/scripts/frontend.sh" build

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpuchat-shot.XXXXXX")"
mkdir -p "$WORK/data"
ln -s "$ROOT/data/models" "$WORK/data/models"
port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
email=admin@example.com
password="shot-$(date +%s)-$RANDOM$RANDOM"
(
    cd "$WORK"
    exec env -u GPUCHAT_REDIS_URL -u GPUCHAT_LOG_FILE -u GPUCHAT_DATABASE_URL \
        GPUCHAT_HOST=127.0.0.1 GPUCHAT_PORT="$port" GPUCHAT_DATA_DIR="$WORK/data" \
        GPUCHAT_PROFILES="$ROOT/profiles.yaml" GPUCHAT_UI_DIR="$ROOT/frontend/dist" \
        GPUCHAT_ADMIN_EMAIL="$email" GPUCHAT_ADMIN_PASSWORD="$password" \
        "$ROOT/.venv/bin/gpuchat" serve
) >"$WORK/gateway.log" 2>&1 &
gateway=$!
trap 'kill "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "Waiting for the gateway and its model (llama.cpp on the CPU)..." >&2
for _ in $(seq 1 600); do  # /readyz: the database and the default model answer
    if "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
        break
    fi
    kill -0 "$gateway" 2>/dev/null || { tail -n 40 "$WORK/gateway.log" >&2; exit 1; }
    sleep 0.5
done
cd "$ROOT/frontend"
GPUCHAT_URL="http://127.0.0.1:$port" GPUCHAT_E2E_EMAIL="$email" GPUCHAT_E2E_PASSWORD="$password" \
    GPUCHAT_SHOT_OUT="$ROOT/docs/screenshots/chat-real-ko.png" node tests/e2e/real-model.mjs
