"""`gpuchat bench` on a terminal: options to a plan, a progress bar, a table, a JSON file.

Progress and messages go to stderr; the table to stdout, unless `--json -` puts the JSON
there, in which case the table moves to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gpuchat.loadtest.run import DEFAULT_STEPS, BenchPlan, ServerProblem, Step, list_models
from gpuchat.loadtest.run import run_bench as _run_bench
from gpuchat.loadtest.stream import Sample

N = TypeVar("N", int, float)


def parse_steps(concurrency: str | None, rate: str | None) -> tuple[Step, ...]:
    """`--concurrency 1,5,10` or `--rate 2,4`; ValueError for anything else."""
    if concurrency and rate:
        raise ValueError("give --concurrency or --rate, not both")
    if rate:
        rates = _numbers(rate, float, "--rate takes positive numbers, e.g. 2 or 1,2,4")
        return tuple(Step(rate=r) for r in rates)
    if not concurrency:
        return tuple(Step(concurrency=c) for c in DEFAULT_STEPS)
    levels = _numbers(concurrency, int, "--concurrency takes whole numbers ≥ 1, e.g. 1,5,10")
    return tuple(Step(concurrency=c) for c in levels)


def _numbers(text: str, kind: Callable[[str], N], problem: str) -> list[N]:
    try:
        values = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise ValueError(problem) from exc
    if not values or min(values) <= 0:
        raise ValueError(problem)
    return values


def resolve_model(base_url: str, api_key: str | None, model: str | None) -> str:
    """The model to use: `--model`, else the first id the server lists."""
    models = asyncio.run(list_models(base_url, api_key))  # also proves the server answers
    if model:
        return model
    if not models:
        raise ServerProblem(f"{base_url}/models lists no model; pass --model", bad_argument=True)
    return models[0]


def run_with_progress(plan: BenchPlan, *, quiet: bool = False) -> dict[str, Any]:
    stderr = Console(stderr=True)
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, disable=quiet) as progress:
        tasks = [
            progress.add_task(step.label, total=plan.bounds(step)[0], failed=0, start=False)
            for step in plan.steps
        ]
        failed = [0] * len(tasks)

        def observe(number: int, sample: Sample) -> None:
            failed[number] += not sample.ok
            progress.start_task(tasks[number])
            progress.update(tasks[number], advance=1, failed=failed[number])

        return asyncio.run(_run_bench(plan, observe))


def write_json(result: dict[str, Any], path: str) -> None:
    text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def print_table(result: dict[str, Any], *, to_stderr: bool) -> None:
    console = Console(stderr=to_stderr, width=max(Console(stderr=to_stderr).width, 140))
    table = Table(title=f"{result['model']} at {result['url']}", title_justify="left")
    for name in ("step", "ok", "failed", "req/min", "out tok/s"):
        table.add_column(name, justify="right")
    for name in ("TTFT ms", "TPOT ms", "ITL ms", "e2e ms"):
        table.add_column(f"{name}\np50 / p95 / p99", justify="right")
    for step in result["steps"]:
        label = f"{step['rate']:g}/s" if step["mode"] == "rate" else f"{step['concurrency']} conc"
        table.add_row(
            label,
            str(step["ok"]),
            f"{step['failed']} ({step['error_rate']:.0%})",
            f"{step['requests_per_min']:.1f}",
            f"{step['output_tokens_per_s']:.1f}",
            *(_triple(step[key]) for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")),
        )
    console.print(table)
    for step in result["steps"]:
        for error in step["errors"]:
            console.print(f"  {_label(step)}: {error['count']} × {error['error']}", markup=False)


def _label(step: dict[str, Any]) -> str:
    return f"{step['rate']:g}/s" if step["mode"] == "rate" else f"{step['concurrency']} conc"


def _triple(dist: dict[str, float | None]) -> str:
    return " / ".join("-" if dist[q] is None else f"{dist[q]:.0f}" for q in ("p50", "p95", "p99"))
