"""Load progress read from an engine's own output (DESIGN §6: `loading` events).

Engines say how far their start has got only in their logs, so the supervisor reads the
log as it is written and turns known lines into a percentage and a phase name:

- vLLM (GPU and CPU builds), stage by stage: the process is up (`non-default args`, 2 %),
  `Loading safetensors checkpoint shards:  50% Completed | 1/2` (weights, 5-40 %),
  `Loading weights took` (40 %), torch.compile and warm-up (`Warming up model`, `Compiling
  a graph`, 45-75 %; minutes on a CPU the first time), `Warming up done` (78 %), the KV
  cache (`GPU KV cache size` / `CPU KV cache size`, 82 %), `Capturing CUDA graph...: 40%|`
  (82-92 %), `init engine ... took` (93 %), then `Starting vLLM server` / `Application
  startup complete` (95 %).
- llama.cpp: `load_model: loading model` (10 %), `load_model: initializing` (70 %),
  `init: model loaded` (90 %), `listening on` (95 %).

The last 5 % belongs to the health check: only the manager says 100 (`ready`). Progress
never goes backwards, so a log line repeated by a restarted tqdm bar does not confuse it.
tqdm redraws its bar with `\\r` and no newline, so input is split on both.
"""

from __future__ import annotations

import re
from typing import Final

from gpuchat.core.notices import NoticeCode

_PERCENT: Final = re.compile(rb"(\d{1,3})%")
# (pattern, phase, low, high): a line matching the pattern moves progress into [low, high];
# with a percentage on the line it is scaled into that range, without it `high` is taken.
_RULES: Final[tuple[tuple[re.Pattern[bytes], str, float, float], ...]] = (
    (re.compile(rb"non-default args|vLLM API server version"), "process up", 2.0, 2.0),
    (
        re.compile(rb"Loading safetensors checkpoint shards|Loading pt checkpoint shards"),
        "loading weights",
        5.0,
        40.0,
    ),
    (re.compile(rb"Loading weights took|Model loading took"), "weights loaded", 40.0, 40.0),
    (
        re.compile(rb"Warming up model|Compiling a graph|torch.compile takes|Dynamo bytecode"),
        "compiling and warming up",
        45.0,
        45.0,
    ),
    (
        re.compile(rb"saved AOT compiled function|Initial profiling/warmup run took"),
        "compiling and warming up",
        75.0,
        75.0,
    ),
    (re.compile(rb"Warming up done"), "warmed up", 78.0, 78.0),
    (
        re.compile(rb"[GC]PU KV cache size|Available KV cache memory|GiB for KV cache"),
        "allocating the KV cache",
        82.0,
        82.0,
    ),
    (re.compile(rb"Capturing CUDA graph|Capturing cudagraph"), "capturing CUDA graphs", 82.0, 92.0),
    (re.compile(rb"init engine \(profile"), "engine initialised", 93.0, 93.0),
    (
        re.compile(rb"Application startup complete|Uvicorn running on|Starting vLLM server"),
        "starting server",
        95.0,
        95.0,
    ),
    (
        re.compile(rb"load_model: loading model|llama_model_loader: loaded meta"),
        "loading model",
        10.0,
        10.0,
    ),
    (re.compile(rb"load_tensors:"), "loading tensors", 30.0, 30.0),
    (re.compile(rb"load_model: initializing"), "initializing", 70.0, 70.0),
    (re.compile(rb"init: model loaded"), "model loaded", 90.0, 90.0),
    (re.compile(rb"listening on http"), "starting server", 95.0, 95.0),
)
_MAX_PENDING: Final = 4096
# Each phase as a code the web UI translates (core/notices.py).
PHASE_CODES: Final[dict[str, NoticeCode]] = {
    "starting": "phase_starting",
    "process up": "phase_process_up",
    "loading weights": "phase_loading_weights",
    "weights loaded": "phase_weights_loaded",
    "compiling and warming up": "phase_warming_up",
    "warmed up": "phase_warmed_up",
    "allocating the KV cache": "phase_kv_cache",
    "capturing CUDA graphs": "phase_cuda_graphs",
    "engine initialised": "phase_engine_initialised",
    "starting server": "phase_starting_server",
    "loading model": "phase_loading_model",
    "loading tensors": "phase_loading_tensors",
    "initializing": "phase_initializing",
    "model loaded": "phase_model_loaded",
    "ready": "phase_ready",
}


class LoadProgress:
    """Percent (0-100) and phase of one engine start; `reset()` at every spawn."""

    __slots__ = ("_pending", "percent", "phase")

    def __init__(self) -> None:
        self.percent: float | None = None
        self.phase: str | None = None
        self._pending = b""

    @property
    def phase_code(self) -> NoticeCode | None:
        return None if self.phase is None else PHASE_CODES.get(self.phase)

    def reset(self, phase: str = "starting") -> None:
        self.percent, self.phase, self._pending = 0.0, phase, b""

    def done(self) -> None:
        self.percent, self.phase, self._pending = 100.0, "ready", b""

    def clear(self) -> None:
        self.percent, self.phase, self._pending = None, None, b""

    def feed(self, data: bytes) -> None:
        if self.percent is None or self.percent >= 100.0:
            return  # not starting: nothing to learn, and the hot log path stays cheap
        *lines, rest = re.split(rb"[\r\n]", self._pending + data)
        self._pending = rest[-_MAX_PENDING:]
        for line in lines:
            if line:
                self._line(line)

    def _line(self, line: bytes) -> None:
        for pattern, phase, low, high in _RULES:
            if not pattern.search(line):
                continue
            found = _PERCENT.findall(line)
            value = high
            if found and high > low:
                value = low + (high - low) * min(int(found[-1]), 100) / 100
            if self.percent is None or value >= self.percent:
                self.percent, self.phase = value, phase
            return
