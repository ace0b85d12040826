"""bench/embedded/report.py renders what `run_bench` records (the docs table and plot)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gpuchat.loadtest import BenchPlan, Step, run_bench
from tests.deploy.helpers import ROOT


def load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "embedded_report", ROOT / "bench/embedded/report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
async def recorded(fake_upstream: str) -> dict[str, Any]:
    """A result shaped like bench/embedded/run.py's, from a short run against the fake."""
    plan = BenchPlan(
        base_url=fake_upstream,
        model="fake",
        steps=(Step(concurrency=1), Step(concurrency=2)),
        requests_per_session=2,
        duration_s=30,
        prompts=("!tokens 6", "!tokens 6", "!fail 500", "!tokens 6"),
    )
    result = await run_bench(plan)
    return result | {
        "machine": {"cpu_model": "Test CPU", "cores": 2, "mem_gib": 4.0, "kernel": "6.1"},
        "loadavg_before": [0.5, 0.4, 0.3],
        "gateway": {"command": "gpuchat run"},
        "engine": {"name": "local", "engine": "llamacpp", "model_file": "m.gguf"},
        "notes": ["a note"],
    }


async def test_markdown_has_one_row_per_step_with_its_numbers(recorded: dict[str, Any]) -> None:
    text = load_report().markdown(recorded)

    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 2"]
    assert [row.split(" | ")[1] for row in rows] == ["2", "4"]  # requests per step
    assert "| 25% |" in rows[1]  # one of four prompts fails
    assert "m.gguf" in text and "Test CPU" in text and "2 requests per session" in text
    assert "HTTP 500: fake fail 500" in text and "a note" in text


async def test_plot_writes_a_png(recorded: dict[str, Any], tmp_path: Path) -> None:
    load_report().plot(recorded, tmp_path / "embedded.png")

    assert (tmp_path / "embedded.png").read_bytes().startswith(b"\x89PNG")
