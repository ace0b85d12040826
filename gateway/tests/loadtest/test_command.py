"""`gpuchat bench` against the scripted fake upstream: what its table and JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from gpuchat.commands.app import app


def bench(tmp_path: Path, url: str, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    """Run the command; (exit code, the JSON it wrote or None, what it printed)."""
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", "--url", url, "--json", str(out), *args])
    written = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, written, result.output


def test_bench_writes_one_step_per_concurrency_with_the_tokens_sent(
    tmp_path: Path, fake_upstream: str
) -> None:
    code, result, output = bench(
        tmp_path, fake_upstream, "--concurrency", "1,3", "--requests", "6", "--prompt", "!tokens 7"
    )

    assert code == 0, output
    assert result is not None
    assert result["model"] == "fake"  # the first id of GET /models
    steps = result["steps"]
    assert [s["concurrency"] for s in steps] == [1, 3]
    for step in steps:
        assert (step["requests"], step["ok"], step["failed"]) == (6, 6, 0)
        assert step["output_tokens"] == 6 * 7
        assert step["tokens_from_usage"] == 6
        assert [s["chunks"] for s in step["samples"]] == [7] * 6
        assert step["requests_per_min"] > 0 and step["output_tokens_per_s"] > 0
    assert "3 conc" in output  # the table


def test_bench_ttft_tpot_and_itl_reflect_the_scripted_delays(
    tmp_path: Path, fake_upstream: str
) -> None:
    script = "!prefill 0.3 !tokens 4 !gap 0.05"
    code, result, output = bench(
        tmp_path, fake_upstream, "--concurrency", "2", "--requests", "4", "--prompt", script
    )

    assert code == 0, output
    assert result is not None
    (step,) = result["steps"]
    assert step["ok"] == 4
    assert step["ttft_ms"]["p50"] >= 300  # the first token waited for the prefill
    assert step["e2e_ms"]["p50"] >= 300 + 3 * 50
    assert step["itl_ms"]["p50"] >= 0.8 * 50  # arrival gaps may jitter a little below 50
    assert step["tpot_ms"]["p50"] >= 0.8 * 50


def test_bench_counts_failed_requests_and_keeps_going(tmp_path: Path, fake_upstream: str) -> None:
    prompts = ["!tokens 3", "!fail 500", "!error-frame 1"]
    args = ["--concurrency", "1", "--requests", "6"]
    code, result, output = bench(
        tmp_path, fake_upstream, *args, *(x for p in prompts for x in ("--prompt", p))
    )

    assert code == 0, output  # request errors are results, not a failed command
    assert result is not None
    (step,) = result["steps"]
    assert (step["ok"], step["failed"], step["error_rate"]) == (2, 4, 0.6667)
    assert step["output_tokens"] == 2 * 3
    errors = {e["error"]: e["count"] for e in step["errors"]}
    assert errors == {"HTTP 500: fake fail 500": 2, "error frame: fake engine error": 2}
    assert "HTTP 500: fake fail 500" in output


def test_bench_rate_step_sends_on_schedule_for_its_duration(
    tmp_path: Path, fake_upstream: str
) -> None:
    code, result, output = bench(
        tmp_path, fake_upstream, "--rate", "4", "--duration", "1", "--prompt", "!tokens 2"
    )

    assert code == 0, output
    assert result is not None
    (step,) = result["steps"]
    assert (step["mode"], step["rate"]) == ("rate", 4.0)
    assert step["requests"] == 4  # at 0, 0.25, 0.5 and 0.75 s
    assert step["ok"] == 4


def test_bench_process_stops_by_itself_when_the_server_stalls(fake_upstream: str) -> None:
    argv = [sys.executable, "-m", "gpuchat", "bench", "--url", fake_upstream, "--quiet"]
    args = ["--concurrency", "2", "--duration", "1", "--timeout", "1", "--json", "-"]
    started = time.monotonic()

    done = subprocess.run(
        [*argv, *args, "--prompt", "!stall 1"], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    (step,) = json.loads(done.stdout)["steps"]
    assert step["ok"] == 0 and step["failed"] >= 2
    assert step["errors"] == [{"error": "timeout after 1s", "count": step["failed"]}]


def test_bench_exits_1_when_the_server_is_unreachable(tmp_path: Path) -> None:
    code, result, output = bench(tmp_path, "http://127.0.0.1:9/v1")

    assert code == 1
    assert result is None
    assert "cannot reach http://127.0.0.1:9/v1" in output


def test_bench_rejects_bad_steps_before_sending_anything(
    tmp_path: Path, fake_upstream: str
) -> None:
    for args, problem in [
        (["--concurrency", "0"], "--concurrency takes whole numbers"),
        (["--concurrency", "1,x"], "--concurrency takes whole numbers"),
        (["--concurrency", "1", "--rate", "2"], "not both"),
        (["--rate", "-1"], "--rate takes positive numbers"),
    ]:
        code, result, output = bench(tmp_path, fake_upstream, *args)
        assert (code, result) == (2, None), args
        assert problem in output
