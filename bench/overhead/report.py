"""Aggregate the cells of an overhead run into a JSON result, a markdown table and plots.

`markdown(result)` and `plot(result, path)` read only the JSON result, so bench/publish.py
can render any recorded run.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadgen import CellResult

# The paths, in run and table order; the keys are what --targets names.
LABELS = {
    "direct": "direct (A)",
    "gateway": "gpuchat (B)",
    "nginx": "nginx (C)",
    "gateway-tls": "gpuchat behind nginx TLS (D)",
    "litellm": "LiteLLM proxy (E)",
    "floor": "Python floor (F)",
}
# DESIGN.md §12 and the benchmark brief; checked against the gateway (B) rows.
TARGETS = {
    "rel_10": 0.97,
    "rel_50": 0.95,
    "rel_200": 0.95,  # the performance issue: 200 streams on 2 cores
    "ttft_p50_add_1_ms": 2.0,
    "ttft_p99_add_10_ms": 10.0,
    "ttft_p99_add_50_ms": 25.0,
    "cpu_ms_per_stream": 3.0,
    "rss_mib": 120.0,
}


def pct(values: list[float], q: float) -> float | None:
    """Percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib else None


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1e3, 3)


def summarise(cells: list[CellResult]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    levels = sorted({c.streams for c in cells})
    for level in levels:
        at = [c for c in cells if c.streams == level]
        by_round_direct = {c.round: c for c in at if c.target == "direct"}
        direct_row: dict[str, Any] | None = None
        for key in LABELS:
            mine = [c for c in at if c.target == key]
            if not mine:
                continue
            completed = sum(c.completed for c in mine)
            elapsed = sum(c.elapsed_s for c in mine)
            ttft = [x for c in mine for x in c.ttft_s]
            errors: Counter[str] = Counter()
            for c in mine:
                errors.update(c.errors)
            row: dict[str, Any] = {
                "streams": level,
                "target": key,
                "rounds": len(mine),
                "completed": completed,
                "errors": dict(errors),
                "streams_per_s": round(completed / elapsed, 2) if elapsed else None,
                "ttft_p50_ms": _ms(pct(ttft, 0.50)),
                "ttft_p99_ms": _ms(pct(ttft, 0.99)),
                "ttft_max_ms": _ms(max(ttft) if ttft else None),
                "client_cpu_pct": round(100 * sum(c.client_cpu_s for c in mine) / elapsed, 1),
                "upstream_cpu_pct": round(100 * sum(c.upstream_cpu_s for c in mine) / elapsed, 1),
                # Busy CPU on the machine not used by the client, upstream or proxy (includes
                # some of our own loopback networking done in softirq): other people's load.
                "other_cpu_pct": round(
                    100
                    * sum(
                        c.machine_cpu_s - c.client_cpu_s - c.upstream_cpu_s - (c.proxy_cpu_s or 0)
                        for c in mine
                    )
                    / elapsed,
                    1,
                ),
                "round_rel": [
                    round(
                        (c.completed / c.elapsed_s)
                        / (by_round_direct[c.round].completed / by_round_direct[c.round].elapsed_s),
                        3,
                    )
                    for c in mine
                    if c.round in by_round_direct and by_round_direct[c.round].completed
                ],
            }
            if mine[0].proxy_cpu_s is not None:
                cpu = sum(c.proxy_cpu_s or 0.0 for c in mine)
                row["proxy_cpu_ms_per_stream"] = (
                    round(1e3 * cpu / completed, 3) if completed else None
                )
                row["proxy_cpu_pct"] = round(100 * cpu / elapsed, 1)
                row["proxy_peak_rss_mib"] = round(
                    max(c.proxy_peak_rss_kib or 0 for c in mine) / 1024, 1
                )
            if key == "direct":
                direct_row = row
            elif direct_row is not None:
                d = direct_row
                row["rel_direct"] = (
                    round(row["streams_per_s"] / d["streams_per_s"], 3)
                    if d["streams_per_s"]
                    else None
                )
                for p in ("p50", "p99"):
                    a, b = row[f"ttft_{p}_ms"], d[f"ttft_{p}_ms"]
                    row[f"ttft_{p}_added_ms"] = None if a is None or b is None else round(a - b, 3)
            rows.append(row)
    return rows


def check_targets(
    rows: list[dict[str, Any]], idle_hwm: tuple[int | None, int | None]
) -> list[dict[str, Any]]:
    gw = {r["streams"]: r for r in rows if r["target"] == "gateway"}
    if not gw:
        return []
    checks: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, higher_is_better: bool) -> None:
        ok = None if value is None else (value >= limit if higher_is_better else value <= limit)
        checks.append({"target": name, "value": value, "limit": limit, "ok": ok})

    add(
        "streams/s vs direct at 10 streams",
        gw.get(10, {}).get("rel_direct"),
        TARGETS["rel_10"],
        True,
    )
    add(
        "streams/s vs direct at 50 streams",
        gw.get(50, {}).get("rel_direct"),
        TARGETS["rel_50"],
        True,
    )
    add(
        "streams/s vs direct at 200 streams",
        gw.get(200, {}).get("rel_direct"),
        TARGETS["rel_200"],
        True,
    )
    add(
        "added TTFT p50 at 1 stream (ms)",
        gw.get(1, {}).get("ttft_p50_added_ms"),
        TARGETS["ttft_p50_add_1_ms"],
        False,
    )
    add(
        "added TTFT p99 at 10 streams (ms)",
        gw.get(10, {}).get("ttft_p99_added_ms"),
        TARGETS["ttft_p99_add_10_ms"],
        False,
    )
    add(
        "added TTFT p99 at 50 streams (ms)",
        gw.get(50, {}).get("ttft_p99_added_ms"),
        TARGETS["ttft_p99_add_50_ms"],
        False,
    )
    cpu = [
        r["proxy_cpu_ms_per_stream"]
        for lvl, r in gw.items()
        if lvl <= 50 and r.get("proxy_cpu_ms_per_stream") is not None
    ]
    add(
        "gateway CPU per stream, worst of levels <= 50 (ms)",
        max(cpu) if cpu else None,
        TARGETS["cpu_ms_per_stream"],
        False,
    )
    # DESIGN.md §12 asks for RSS at idle and under 50 streams; 200 is a stress level.
    peaks = [
        r["proxy_peak_rss_mib"]
        for lvl, r in gw.items()
        if lvl <= 50 and r.get("proxy_peak_rss_mib")
    ]
    idle = idle_hwm[0]
    peak = max([*peaks, *([round(idle / 1024, 1)] if idle else [])], default=None)
    add("gateway peak RSS, idle and levels <= 50 (MiB)", peak, TARGETS["rss_mib"], False)
    # DESIGN.md §12: beat the LiteLLM proxy on every cell (when it ran).
    litellm = {r["streams"]: r for r in rows if r["target"] == "litellm"}
    for level in sorted(set(gw) & set(litellm)):
        ours, theirs = gw[level], litellm[level]
        add(
            f"streams/s vs LiteLLM's at {level} streams",
            _ratio(ours["streams_per_s"], theirs["streams_per_s"]),
            1.0,
            True,
        )
        add(
            f"TTFT p50 vs LiteLLM's at {level} streams",
            _ratio(ours["ttft_p50_ms"], theirs["ttft_p50_ms"]),
            1.0,
            False,
        )
    return checks


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def build(
    args: argparse.Namespace,
    raw: dict[str, Any],
    notes: list[str],
    machine: dict[str, Any],
    started: dt.datetime,
    load_before: list[float],
    load_after: list[float],
) -> dict[str, Any]:
    cells: list[CellResult] = raw["cells"]
    rows = summarise(cells)
    idle, hwm = raw.get("gateway_idle_rss_kib"), raw.get("gateway_hwm_kib")
    return {
        "benchmark": "gateway-overhead",
        "started": started.isoformat(timespec="seconds"),
        "config": {
            "levels": args.levels,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "tokens": args.tokens,
            "gap_ms": args.gap_ms,
            "first_token_delay_ms": args.first_token_delay_ms,
            "nginx_workers": args.nginx_workers,
            "targets": args.targets,
        },
        "machine": machine,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "notes": notes,
        "gateway_idle_rss_mib": round(idle / 1024, 1) if idle else None,
        "gateway_idle_vmhwm_mib": _mib(raw.get("gateway_idle_hwm_kib")),
        "gateway_vmhwm_mib": round(hwm / 1024, 1) if hwm else None,
        "summary": rows,
        "targets": check_targets(rows, (idle, hwm)),
        "cells": [
            {
                "streams": c.streams,
                "round": c.round,
                "target": c.target,
                "elapsed_s": round(c.elapsed_s, 4),
                "completed": c.completed,
                "errors": dict(c.errors),
                "proxy_cpu_s": c.proxy_cpu_s,
                "proxy_peak_rss_kib": c.proxy_peak_rss_kib,
                "upstream_cpu_s": round(c.upstream_cpu_s, 3),
                "client_cpu_s": round(c.client_cpu_s, 3),
                "machine_cpu_s": round(c.machine_cpu_s, 3),
                "ttft_ms": [round(x * 1e3, 3) for x in c.ttft_s],
            }
            for c in cells
        ],
    }


def _f(x: float | None, fmt: str = "{:.2f}", signed: bool = False) -> str:
    if x is None:
        return "–"
    return ("+" if signed and x >= 0 else "") + fmt.format(x)


def markdown(result: dict[str, Any]) -> str:
    m, cfg = result["machine"], result["config"]
    out = [
        f"Gateway overhead, {result['started']} — {m['cpu_model']}, {m['cores']} cores, "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}; load avg before "
        f"{' '.join(map(str, result['loadavg_before']))}, after "
        f"{' '.join(map(str, result['loadavg_after']))}",
        "",
        f"gpuchat at {m.get('git_rev') or '?'}"
        f"{' + uncommitted gateway changes' if m.get('gateway_src_dirty') else ''}; "
        f"{cfg['tokens']} tokens/stream, {cfg['gap_ms']:g} ms apart, first token after "
        f"{cfg['first_token_delay_ms']:g} ms; {cfg['rounds']} interleaved rounds × "
        f"{cfg['duration_s']:g} s per cell",
        "",
        "| streams | path | streams/s | × direct | TTFT p50 ms | TTFT p99 ms | +p50 ms | +p99 ms "
        "| proxy CPU ms/stream | proxy peak RSS MiB | client CPU % | other load % | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["summary"]:
        out.append(
            f"| {r['streams']} | {LABELS[r['target']]} | {_f(r['streams_per_s'], '{:.1f}')} "
            f"| {_f(r.get('rel_direct'), '{:.3f}')} "
            f"| {_f(r['ttft_p50_ms'])} | {_f(r['ttft_p99_ms'])} "
            f"| {_f(r.get('ttft_p50_added_ms'), signed=True)} "
            f"| {_f(r.get('ttft_p99_added_ms'), signed=True)} "
            f"| {_f(r.get('proxy_cpu_ms_per_stream'))} "
            f"| {_f(r.get('proxy_peak_rss_mib'), '{:.1f}')} "
            f"| {_f(r['client_cpu_pct'], '{:.0f}')} | {_f(r['other_cpu_pct'], '{:.0f}')} "
            f"| {sum(r['errors'].values())} |"
        )
    if any(r["target"] == "gateway-tls" for r in result["summary"]):
        out += ["", "D's proxy CPU and RSS are nginx's and the gateway's together."]
    if result.get("gateway_idle_rss_mib"):
        out += [
            "",
            f"gpuchat RSS at idle {result['gateway_idle_rss_mib']} MiB (VmHWM "
            f"{result['gateway_idle_vmhwm_mib']} MiB after start-up); VmHWM at the end of the run "
            f"{result['gateway_vmhwm_mib']} MiB",
        ]
    if result["targets"]:
        out += ["", "| target (gpuchat) | measured | limit | met |", "|---|---:|---:|---|"]
        for c in result["targets"]:
            met = {True: "yes", False: "**no**", None: "–"}[c["ok"]]
            out.append(f"| {c['target']} | {_f(c['value'], '{:.3g}')} | {c['limit']:g} | {met} |")
    if result["notes"]:
        out += ["", *[f"- {n}" for n in result["notes"]]]
    return "\n".join(out)


COLOURS = {
    "direct": "#555555",
    "gateway": "#1f77b4",
    "nginx": "#2ca02c",
    "gateway-tls": "#d62728",
    "litellm": "#9467bd",
    "floor": "#ff7f0e",
}
PANELS = [  # (summary field, title, y label, y scale)
    ("streams_per_s", "Throughput", "completed streams/s", "log"),
    ("rel_direct", "Throughput relative to direct", "streams/s ÷ direct (A)", "linear"),
    ("ttft_p50_ms", "Time to first token, median", "TTFT p50 (ms)", "log"),
    ("ttft_p99_ms", "Time to first token, 99th percentile", "TTFT p99 (ms)", "log"),
]


def plot(result: dict[str, Any], path: Path) -> None:
    """Throughput and TTFT against concurrency, one line per path, as one PNG."""
    import matplotlib  # here, not at the top: only publishing needs matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullLocator

    rows, m, cfg = result["summary"], result["machine"], result["config"]
    levels = sorted({r["streams"] for r in rows})
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), layout="constrained")
    for ax, (field, title, ylabel, yscale) in zip(axes.flat, PANELS, strict=True):
        for key, label in LABELS.items():
            mine = [r for r in rows if r["target"] == key and r.get(field) is not None]
            xs, ys = [r["streams"] for r in mine], [r[field] for r in mine]
            if mine:
                ax.plot(xs, ys, marker="o", color=COLOURS[key], label=label)
        if field == "rel_direct":
            ax.axhline(1.0, color=COLOURS["direct"], linestyle="--", linewidth=1)
            ax.set_ylim(0, 1.15)
        ax.set(title=title, xlabel="concurrent streams", ylabel=ylabel, xscale="log")
        ax.set_yscale(yscale)
        ax.set_xticks(levels, [str(x) for x in levels])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(
        f"Gateway overhead, {result['started'][:10]}, gpuchat at {m.get('git_rev') or '?'}\n"
        f"{m['cpu_model']}, {m['cores']} cores; {cfg['tokens']} tokens/stream "
        f"{cfg['gap_ms']:g} ms apart; {cfg['rounds']} rounds × {cfg['duration_s']:g} s per cell"
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
