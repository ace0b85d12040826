"""The gateway's own sentences the web UI shows, as a stable code and its parameters.

A GPU's absence, an engine's load phase, why a profile cannot run on this host, why an engine
failed, why the engines refused a request: each reaches the API as `code` (+ `params`) next to
the English message. The web UI translates `notice.<code>` (frontend/src/i18n), filling in the
params, and shows the English message for a code it does not know (an older or newer
gateway). A code added here fails the web UI's type check until both catalogs translate it
(frontend/src/i18n/notices.ts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NoticeCode = Literal[
    # An engine's start, phase by phase (engines/progress.py), and a chat turn waiting for it
    "phase_starting",
    "phase_waiting",
    "phase_process_up",
    "phase_loading_weights",
    "phase_weights_loaded",
    "phase_warming_up",
    "phase_warmed_up",
    "phase_kv_cache",
    "phase_cuda_graphs",
    "phase_engine_initialised",
    "phase_starting_server",
    "phase_loading_model",
    "phase_loading_tensors",
    "phase_initializing",
    "phase_model_loaded",
    "phase_ready",
    # GPUs (engines/gpu.py)
    "gpu_nvml_missing",
    "gpu_no_driver",
    "gpu_query_failed",
    # Why this host cannot run a profile (engines/launchers.py, packaged.py, hf_export.py)
    "vllm_missing",
    "model_unknown",
    "model_not_installed",
    "model_not_exported",
    "model_file_missing",
    "command_not_found",
    "command_not_executable",
    # Why an engine failed (engines/lifecycle.py)
    "engine_cannot_start",
    "engine_start_timeout",
    "engine_unhealthy",
    "engine_exited_starting",
    "engine_exited",
    # The engines' refusals (engines/manager.py, remote.py, replicas.py)
    "server_shutting_down",
    "model_held",
    "model_stopping",
    "model_restarting",
    "model_not_ready",
    "model_gpus_busy",
    "model_unavailable_here",
    "no_healthy_replica",
    "supervisor_unreachable",
    "supervisor_refused",
    "switch_in_progress",
    "external_engine",
]

NoticeParams = dict[str, str | int | float]


@dataclass(frozen=True, slots=True)
class Notice:
    code: NoticeCode
    message: str  # the English sentence, for logs, the CLI and clients that do not translate
    params: NoticeParams = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message
