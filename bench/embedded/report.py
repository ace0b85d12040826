"""Render an embedded end-to-end run (bench/results/embedded-*.json) for the docs.

`markdown(result)` and `plot(result, path)` read only the JSON result, so bench/publish.py
can render any recorded run. This file imports nothing from its directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    ("sessions", "concurrency", "{}"),
    ("requests", "requests", "{}"),
    ("errors", "error_rate", "{:.0%}"),
    ("req/min", "requests_per_min", "{:.1f}"),
    ("output tok/s", "output_tokens_per_s", "{:.1f}"),
)
LATENCIES = (  # (label, key, percentiles shown)
    ("TTFT", "ttft_ms", ("p50", "p95", "p99")),
    ("TPOT", "tpot_ms", ("p50", "p95")),
    ("ITL", "itl_ms", ("p50", "p99")),
    ("e2e", "e2e_ms", ("p50", "p95")),
)

COLOURS = {
    "ttft_ms": "tab:blue",
    "tpot_ms": "tab:orange",
    "itl_ms": "tab:gray",
    "e2e_ms": "tab:green",
}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def headline(result: dict[str, Any]) -> str:
    """Engine, model, machine and plan in one paragraph."""
    m, e, s = result["machine"], result["engine"], result["settings"]
    model = e.get("model_file") or e.get("model") or result["model"]
    llamacpp = e.get("llamacpp") or {}
    slots = f", {llamacpp['parallel']} llama.cpp slots" if "parallel" in llamacpp else ""
    load = " ".join(f"{x:g}" for x in result["loadavg_before"])
    return (
        f"Embedded default ({result['gateway']['command']}), {result['started_at'][:10]}: "
        f"{e.get('engine')} profile `{e.get('name')}` with {model}{slots}, "
        f"max_concurrency {e.get('max_concurrency')}; {m['cpu_model']}, {m['cores']} cores, "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, load average before {load}; "
        f"gpuchat {m.get('git_rev') or '?'}. Each request: a ~{s['prompt_tokens']}-token "
        f"prompt, max_tokens {s['max_tokens']}, streamed; {_step_size(s)}."
    )


def _step_size(settings: dict[str, Any]) -> str:
    if settings.get("requests_per_session"):
        size = f"{settings['requests_per_session']} requests per session and step"
    elif settings.get("requests"):
        size = f"{settings['requests']} requests per step"
    else:
        size = "steps bounded by time"
    if settings.get("duration_s"):
        size += f", new requests for at most {settings['duration_s']:g} s"
    return size


def markdown(result: dict[str, Any]) -> str:
    """The table for docs/benchmarks.md: one row per concurrency step, latencies in ms."""
    heads = [label for label, _, _ in COLUMNS]
    heads += [f"{label} {q} ms" for label, _, qs in LATENCIES for q in qs]
    lines = [
        headline(result),
        "",
        "| " + " | ".join(heads) + " |",
        "|" + "---:|" * len(heads),
    ]
    for step in result["steps"]:
        cells = [fmt.format(step[key]) for _, key, fmt in COLUMNS]
        cells += [_ms(step[key][q]) for _, key, qs in LATENCIES for q in qs]
        lines.append("| " + " | ".join(cells) + " |")
    errors = [(s["concurrency"], e) for s in result["steps"] for e in s["errors"]]
    if errors:
        lines += [
            "",
            "Errors: " + "; ".join(f"{c} sessions: {e['count']} × {e['error']}" for c, e in errors),
        ]
    if result.get("notes"):
        lines += ["", "Notes: " + "; ".join(result["notes"])]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Latency percentiles and throughput against concurrent sessions, as one PNG."""
    import matplotlib  # here, not at the top: only publishing needs matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result["steps"]
    xs = [s["concurrency"] for s in steps]
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for label, key, qs in LATENCIES:
        if key == "itl_ms":
            continue  # ITL ≈ TPOT on one engine; one line is enough
        colour = COLOURS[key]
        for q, style in zip(qs, ("-", "--", ":"), strict=False):
            ys = [s[key][q] for s in steps]
            if any(y is not None for y in ys):
                lat.plot(xs, ys, style, color=colour, marker="o", label=f"{label} {q}")
    lat.set(title="Latency", xlabel="concurrent sessions", ylabel="ms", yscale="log")
    thr.plot(xs, [s["output_tokens_per_s"] for s in steps], marker="o", label="output tok/s")
    thr.plot(xs, [s["requests_per_min"] for s in steps], marker="s", label="requests/min")
    thr.set(title="Throughput", xlabel="concurrent sessions", ylim=(0, None))
    for ax in (lat, thr):
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    e, m = result["engine"], result["machine"]
    fig.suptitle(
        f"gpuchat embedded default, {result['started_at'][:10]}: "
        f"{e.get('model_file') or e.get('model')} on {m['cores']} cores ({m['cpu_model']})",
        fontweight="bold",
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
