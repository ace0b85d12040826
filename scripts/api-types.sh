#!/usr/bin/env bash
# The web UI's API types, generated from the gateway's OpenAPI document.
#
#   scripts/api-types.sh          write frontend/src/api/generated/openapi.ts
#   scripts/api-types.sh --check  fail when the committed file differs from what the
#                                 gateway describes now (make test runs this)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="$ROOT/frontend/src/api/generated/openapi.ts"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpuchat-api-types.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

"$ROOT/.venv/bin/python" "$ROOT/scripts/openapi.py" >"$WORK/openapi.json"
(cd "$ROOT/frontend" && node_modules/.bin/openapi-typescript "$WORK/openapi.json" \
    --output "$WORK/openapi.ts") >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }

if [ "${1:-}" = "--check" ]; then
    if ! diff -u "$TARGET" "$WORK/openapi.ts" >"$WORK/drift.diff"; then
        head -n 60 "$WORK/drift.diff" >&2
        echo "frontend/src/api/generated/openapi.ts is not what the gateway describes:" \
            "run 'make api-types' and commit the result." >&2
        exit 1
    fi
    exit 0
fi
mkdir -p "$(dirname "$TARGET")"
cp "$WORK/openapi.ts" "$TARGET"
echo "wrote ${TARGET#"$ROOT"/}" >&2
