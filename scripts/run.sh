#!/usr/bin/env bash
# Run gpuchat on the embedded default: SQLite under ./data, llama.cpp on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/gpuchat run
