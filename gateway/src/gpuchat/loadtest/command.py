"""The `gpuchat bench` command: options in, a plan, a run, a table and a JSON file out.

`gpuchat.commands.app` registers it; the work is in `run` (steps), `stream` (one request)
and `console`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gpuchat.loadtest import console
from gpuchat.loadtest.run import BenchPlan, ServerProblem


def bench(
    url: Annotated[str, typer.Option(help="Base URL of any OpenAI-compatible API.")] = (
        "http://127.0.0.1:8080/v1"
    ),
    # Read by typer, not Settings: the key belongs to whoever runs the load test.
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=["GPUCHAT_BENCH_API_KEY", "OPENAI_API_KEY"],
            show_default=False,
            help="Sent as a Bearer token.",
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Default: the first of GET /models.")] = None,
    concurrency: Annotated[
        str | None, typer.Option(help="Concurrent sessions per step (default 1,5,10).")
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="Requests/s per step, open loop (instead of sessions).")
    ] = None,
    requests: Annotated[int | None, typer.Option(min=1, help="Requests per step.")] = None,
    requests_per_session: Annotated[
        int | None, typer.Option(min=1, help="Or per session: 2 sends 2, 10, 20 at 1,5,10.")
    ] = None,
    duration: Annotated[float | None, typer.Option(min=0.1, help="Seconds per step.")] = None,
    prompt_tokens: Annotated[int, typer.Option(min=1, help="Generated prompt length.")] = 64,
    prompt: Annotated[
        list[str] | None, typer.Option(help="Prompt text instead (repeat: used in turn).")
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="max_tokens of each request.")] = 128,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 120.0,
    warmup: Annotated[int, typer.Option(min=0, help="Unrecorded requests first.")] = 0,
    json_path: Annotated[
        str | None, typer.Option("--json", help="Write the results as JSON here (- for stdout).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Load-test a chat completions API: TTFT, TPOT, ITL, latency, throughput and errors.

    Each step stops after --requests or --duration (default: 10 requests per session, or
    30 s per rate step); failed requests are counted, not fatal.
    """
    try:
        steps = console.parse_steps(concurrency, rate)
        chosen = console.resolve_model(url, api_key, model)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except ServerProblem as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2 if exc.bad_argument else 1) from exc
    plan = BenchPlan(
        base_url=url,
        model=chosen,
        steps=steps,
        api_key=api_key,
        requests=requests,
        requests_per_session=requests_per_session,
        duration_s=duration,
        max_tokens=max_tokens,
        prompt_tokens=prompt_tokens,
        prompts=tuple(prompt or ()),
        timeout_s=timeout,
        warmup=warmup,
    )
    result = console.run_with_progress(plan, quiet=quiet)
    if json_path:
        console.write_json(result, json_path)
    console.print_table(result, to_stderr=json_path == "-")
