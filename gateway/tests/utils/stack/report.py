"""Results of the chaos and soak runs: the JSON in bench/results/ (with the machine and the
commit), the markdown tables, and their place in docs/reliability.md (between
`<!-- <kind>:begin -->` and `<!-- <kind>:end -->`; the prose around them is never touched)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from tests.utils.stack.services import REPO

RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "reliability.md"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kib = 0
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg": list(os.getloadavg()),
    }


def commit() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # Edits to the docs and results (which a run rewrites) do not make the code dirty.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs", ":!bench")
    return head + ("+dirty" if changed else "")


def header(started: dt.datetime, code: str) -> dict[str, Any]:
    """`code`: `commit()` as the run started (the code its processes run)."""
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": now().isoformat(timespec="seconds"),
        "commit": code,
        "machine": machine(),
    }


def save(result: dict[str, Any], kind: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = now().strftime("%Y-%m-%d-%H%M")
    path = RESULTS / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(_compact(result), separators=(",", ":")) + "\n")
    return path


def _compact(value: Any) -> Any:
    """Without the None fields of every request's record (they are most of the file)."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _seconds(value: float | None) -> str:
    if value is None:
        return "not within the run"
    return "< 1 s" if value == 0 else f"{value:g} s"


def one_line(fault: dict[str, Any]) -> str:
    acc = fault["account"]
    lost = acc["lost"]
    return (
        f"{acc['requests']} requests, ended {acc['ended']}, HTTP errors "
        f"{acc['http_statuses']}, Retry-After {acc['retry_after']}, slowest answer "
        f"{acc['slowest_answer_s']} s, hung {lost['hung']}, "
        f"missing rows {lost['missing_usage_rows']}, unclear {lost['unclear_ends']}, "
        f"web answers stored wrong {lost['stored_answer_wrong']}/{lost['web_turns_checked']}, "
        f"recovery {_seconds(fault['recovery_s'])}; {fault['note']}"
    )


def _machine_line(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (
        f"Commit `{result['commit']}`, {result['started_at']}; {m['cpu']}, {m['cores']} cores, "
        f"{m['ram_gib']} GiB, kernel {m['kernel']}, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in m['loadavg'])}."
    )


def chaos_markdown(result: dict[str, Any]) -> str:
    plan = result["plan"]
    lines = [
        _machine_line(result),
        f"{plan['streams']} streams through nginx (TLS); {plan['pre_s']:g} s of load before "
        f"each fault, {plan['post_s']:g} s after it cleared.",
        "",
        "| fault | requests | error rate | what failing clients saw | Retry-After | "
        "slowest answer (first token) | hung | usage rows missing | unclear ends | "
        "web answers stored wrong | recovery | note |",
        "|---|---:|---:|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for fault in result["faults"]:
        acc = fault["account"]
        lost = acc["lost"]
        seen = ", ".join(f"{k} ×{n}" for k, n in acc["errors"].items()) or "nothing"
        excused = f" (+{lost['excused']} of the killed replica)" if lost["excused"] else ""
        lines.append(
            f"| {fault['fault']} | {acc['requests']} | {acc['error_rate']:.1%} | {seen} | "
            f"{', '.join(acc['retry_after']) or '-'} | "
            f"{acc['slowest_answer_s']:g} s ({acc['slowest_first_token_s']:g} s) | "
            f"{lost['hung']} | "
            f"{lost['missing_usage_rows']}{excused} | {lost['unclear_ends']} | "
            f"{lost['stored_answer_wrong']} of {lost['web_turns_checked']} | "
            f"{_seconds(fault['recovery_s'])} | {fault['note']} |"
        )
    return "\n".join(lines)


def soak_markdown(result: dict[str, Any]) -> str:
    plan = result["plan"]
    acc = result["account"]
    short = "**Short run** (not the 30-minute soak). " if plan["minutes"] < 30 else ""
    lines = [
        short + _machine_line(result),
        f"{plan['minutes']:g} minutes at {plan['streams']} streams, "
        f"{plan['abandon_share']:.0%} of requests left by their client at a random moment.",
        "",
        f"Requests: {acc['requests']} (ended: {acc['ended']}); usage rows {acc['usage_rows']} "
        "(with the web chat's title requests); "
        f"hung {acc['lost']['hung']}, usage rows missing {acc['lost']['missing_usage_rows']}, "
        f"unclear ends {acc['lost']['unclear_ends']}, web chat answers stored wrong "
        f"{acc['lost']['stored_answer_wrong']} of {acc['lost']['web_turns_checked']}. "
        "Engine slots left taken: "
        f"{result['after']['slots_taken']} (Redis), {result['after']['engine_inflight']} "
        "(supervisor leases).",
        "",
        "| process | RSS baseline → after (MiB) | open files baseline → after |",
        "|---|---|---|",
    ]
    before, after = result["baseline"]["processes"], result["after"]["processes"]
    for name in sorted(before):
        b, a = before[name], after.get(name, {"rss_kib": 0, "open_files": 0})
        lines.append(
            f"| {name} | {b['rss_kib'] / 1024:.0f} → {a['rss_kib'] / 1024:.0f} | "
            f"{b['open_files']} → {a['open_files']} |"
        )
    lines.append(
        f"| PostgreSQL connections (pg_stat_activity) | | "
        f"{result['baseline']['db_connections']} → {result['after']['db_connections']} |"
    )
    return "\n".join(lines)


def publish(kind: str, table: str) -> None:
    text = DOC.read_text()
    begin, end = f"<!-- {kind}:begin -->", f"<!-- {kind}:end -->"
    if begin not in text or end not in text:
        print(f"{DOC} has no {begin} … {end} markers: table not published")
        return
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{table}\n{end}{tail}")
