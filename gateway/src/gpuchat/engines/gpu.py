"""GPU status through NVML (nvidia-ml-py), absent-safe.

A host without an NVIDIA driver (a laptop, CI, the embedded default) is a normal case:
the report says `available: false` with the reason, and nothing raises. NVML calls are
blocking but take microseconds; callers on the event loop run `read()` in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel

from gpuchat.core.notices import Notice, NoticeCode, NoticeParams

log = logging.getLogger(__name__)

RETRY_INIT_S: Final = 60.0  # a driver installed later is noticed without a restart
_MIB: Final = 1024 * 1024


class GpuStatus(BaseModel):
    index: int
    name: str
    memory_used_mib: int
    memory_total_mib: int
    utilization_pct: int | None
    temperature_c: int | None
    engine: str | None = None  # the profile whose engine holds this GPU


class GpuReport(BaseModel):
    available: bool
    reason: str | None = None
    reason_code: NoticeCode | None = None  # core/notices.py: what the web UI translates
    reason_params: NoticeParams = {}
    driver: str | None = None
    gpus: list[GpuStatus] = []


class GpuMonitor:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # read() runs in worker threads
        self._nvml: Any = None
        self._reason: Notice | None = None
        self._retry_at = 0.0

    def read(self, holders: Mapping[int, str] | None = None) -> GpuReport:
        """Every GPU's memory, utilisation and temperature; `holders`: GPU index -> engine."""
        with self._lock:
            nvml = self._init()
            if nvml is None:
                return _unavailable(self._reason)
            try:
                return self._report(nvml, holders or {})
            except nvml.NVMLError as exc:
                log.warning("NVML query failed: %s", exc)
                return _unavailable(
                    Notice("gpu_query_failed", f"NVML query failed: {exc}", {"detail": str(exc)})
                )

    def close(self) -> None:
        with self._lock:
            if self._nvml is not None:
                with contextlib.suppress(self._nvml.NVMLError):
                    self._nvml.nvmlShutdown()
                self._nvml = None

    def _init(self) -> Any:
        if self._nvml is not None or time.monotonic() < self._retry_at:
            return self._nvml
        try:
            import pynvml  # nvidia-ml-py: pure Python, loads libnvidia-ml.so at nvmlInit()
        except ImportError:
            self._reason = Notice("gpu_nvml_missing", "nvidia-ml-py is not installed")
            self._retry_at = float("inf")
            return None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self._reason = Notice(
                "gpu_no_driver",
                f"no NVIDIA GPU or driver on this host ({exc})",
                {"detail": str(exc)},
            )
            self._retry_at = time.monotonic() + RETRY_INIT_S
            return None
        self._nvml, self._reason = pynvml, None
        return pynvml

    @staticmethod
    def _report(nvml: Any, holders: Mapping[int, str]) -> GpuReport:
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                utilization: int | None = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
            except nvml.NVMLError:
                utilization = None  # some devices (MIG slices) do not report it
            try:
                sensor = nvml.NVML_TEMPERATURE_GPU
                temperature: int | None = nvml.nvmlDeviceGetTemperature(handle, sensor)
            except nvml.NVMLError:
                temperature = None
            name = nvml.nvmlDeviceGetName(handle)
            gpus.append(
                GpuStatus(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    memory_used_mib=int(memory.used) // _MIB,
                    memory_total_mib=int(memory.total) // _MIB,
                    utilization_pct=utilization,
                    temperature_c=temperature,
                    engine=holders.get(index),
                )
            )
        driver = nvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else str(driver)
        return GpuReport(available=True, driver=driver, gpus=gpus)


def _unavailable(reason: Notice | None) -> GpuReport:
    if reason is None:
        return GpuReport(available=False)
    return GpuReport(
        available=False,
        reason=reason.message,
        reason_code=reason.code,
        reason_params=reason.params,
    )
