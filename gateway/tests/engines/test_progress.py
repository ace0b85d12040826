"""Load progress read from engine logs."""

from __future__ import annotations

from pathlib import Path

from gpuchat.engines.progress import LoadProgress

SAMPLES = Path(__file__).with_name("samples")  # engine output, as engines printed it


def test_vllm_weight_loading_lines_raise_progress_through_tqdm_redraws() -> None:
    progress = LoadProgress()
    progress.reset()
    seen = []

    for chunk in [
        b"INFO 01-01 model_runner.py: Starting to load model\n",
        b"Loading safetensors checkpoint shards:   0% Completed | 0/4 [00:00<?, ?it/s]\r",
        b"Loading safetensors checkpoint shards:  50% Com",  # cut in the middle of a line
        b"pleted | 2/4 [00:03<00:03]\rLoading safetensors checkpoint shards: 100% Completed\n",
        b"INFO Loading weights took 6.10 seconds\n",
        b"Capturing CUDA graph shapes:  40%|####      | 14/35\r",
        b"INFO:     Application startup complete.\n",
    ]:
        progress.feed(chunk)
        seen.append(progress.percent)

    assert seen == [0.0, 5.0, 5.0, 40.0, 40.0, 86.0, 95.0]
    assert progress.phase == "starting server"
    progress.done()
    assert (progress.percent, progress.phase) == (100.0, "ready")


def test_vllm_cpu_start_is_reported_stage_by_stage() -> None:
    """The lines a real vLLM 0.32 CPU start printed (SmolLM2, first start: 90 s of compile)."""
    progress = LoadProgress()
    progress.reset()
    phases: list[str] = []
    for line in (SAMPLES / "vllm-cpu-start.log").read_bytes().splitlines(keepends=True):
        progress.feed(line)
        assert progress.phase is not None
        if not phases or phases[-1] != progress.phase:
            phases.append(progress.phase)

    assert phases == [
        "process up",
        "loading weights",
        "weights loaded",
        "compiling and warming up",
        "warmed up",
        "allocating the KV cache",
        "engine initialised",
        "starting server",
    ]
    assert progress.percent == 95.0


def test_llama_cpp_server_lines_raise_progress() -> None:
    progress = LoadProgress()
    progress.reset()
    lines = [
        b"0.00.004.994 I srv          init: loading model\n",
        b"0.00.005.067 I srv    load_model: loading model '/m.gguf'\n",
        b"0.00.672.098 I srv    load_model: initializing, n_slots = 1\n",
        b"0.00.674.389 I srv          init: model loaded\n",
        b"0.00.674.397 I srv          init: listening on http://127.0.0.1:1\n",
    ]

    percents = []
    for line in lines:
        progress.feed(line)
        percents.append(progress.percent)

    assert percents == [0.0, 10.0, 70.0, 90.0, 95.0]


def test_progress_never_goes_back_and_ignores_output_when_not_starting() -> None:
    progress = LoadProgress()
    progress.feed(b"Loading safetensors checkpoint shards:  50% Completed\n")
    assert progress.percent is None  # not starting: nothing to report

    progress.reset()
    progress.feed(b"init: model loaded\n")
    progress.feed(b"load_model: loading model 'x'\n")
    assert progress.percent == 90.0
