"""The gateway's sentences the web UI shows carry a stable code (+ params) it translates."""

from __future__ import annotations

import pynvml
import pytest

from gpuchat.core.notices import Notice
from gpuchat.engines.control import ControlRefused, EngineUnavailable, SwitchConflict
from gpuchat.engines.gpu import GpuMonitor
from gpuchat.engines.progress import PHASE_CODES, LoadProgress
from gpuchat.engines.wire import error_reply, raise_error
from gpuchat.services.relay.request import engine_error


def test_a_host_without_a_gpu_says_so_with_a_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_driver() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_driver)

    report = GpuMonitor().read()

    assert not report.available
    assert report.reason_code == "gpu_no_driver"
    assert report.reason is not None and report.reason.startswith("no NVIDIA GPU or driver")
    assert report.reason_params["detail"] in report.reason


def test_every_load_phase_has_a_code() -> None:
    progress = LoadProgress()
    progress.reset()
    assert progress.phase_code == "phase_starting"
    progress.feed(b"load_model: loading model 'x'\n")
    assert (progress.phase, progress.phase_code) == ("loading model", "phase_loading_model")
    progress.done()
    assert progress.phase_code == "phase_ready"
    assert len(set(PHASE_CODES.values())) == len(PHASE_CODES)


@pytest.mark.parametrize(
    "refusal",
    [
        EngineUnavailable(Notice("model_stopping", "model 'a' is being stopped", {"name": "a"}), 7),
        SwitchConflict(),
        ControlRefused(Notice("external_engine", "'a' is an external engine", {"name": "a"})),
    ],
)
def test_a_refusal_keeps_its_code_across_the_supervisor_wire(
    refusal: EngineUnavailable | SwitchConflict | ControlRefused,
) -> None:
    status, body = error_reply(refusal)

    with pytest.raises(type(refusal)) as raised:
        raise_error(status, body)

    assert raised.value.message == refusal.message
    assert raised.value.notice == refusal.notice


def test_an_older_supervisor_without_codes_still_refuses_in_english() -> None:
    with pytest.raises(EngineUnavailable) as raised:
        raise_error(503, {"type": "unavailable", "message": "model 'a' is not ready"})

    assert raised.value.message == "model 'a' is not ready"
    assert raised.value.notice is None


def test_the_error_envelope_carries_the_refusals_code_beside_its_message() -> None:
    why = Notice("model_restarting", "model 'a' failed and is restarting", {"name": "a"})

    body = engine_error(EngineUnavailable(why, 5)).body()

    assert body["error"]["message"] == "model 'a' failed and is restarting"
    assert body["error"]["code"] == "engine_unavailable"  # what OpenAI clients read, unchanged
    assert body["error"]["notice"] == {"code": "model_restarting", "params": {"name": "a"}}
