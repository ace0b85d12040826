"""What a load phase did, from its clients' records and the database's usage rows: how each
request ended, whether any was lost, and how long the service took to recover."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from typing import Any

import asyncpg

from tests.utils.stack.load import CLEAR_KINDS, Outcome

FULLY_OK_TTFT_S = 5.0  # "fully successful": a complete answer whose first token came this soon
# Errors the gateway gives before it sends anything upstream. On /v1 they are HTTP errors;
# the web chat has already answered 200 (its question is stored), so they arrive as an
# `error` event. Either way no upstream request was made, and no usage row is due.
NOT_SENT_UPSTREAM = frozenset(
    {
        "engine_unavailable",
        "engine_loading",
        "queue_full",
        "queue_share_exceeded",
        "queue_timeout",
        "rate_limited",
        "quota_exceeded",
    }
)


async def usage_rows(dsn: str, key_id: int, settle_s: float = 15.0) -> dict[str, dict[str, Any]]:
    """The usage rows of an API key, by request id, once their number stops growing (the
    gateway writes them in the background, and retries through a database outage)."""
    deadline = time.monotonic() + settle_s
    rows: list[asyncpg.Record] = []
    stable = 0
    while time.monotonic() < deadline and stable < 3:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            try:
                fresh = await conn.fetch(
                    "SELECT request_id, status_code, error_type FROM requests "
                    "WHERE api_key_id = $1",
                    key_id,
                )
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, TimeoutError):
            fresh = rows
        stable = stable + 1 if len(fresh) == len(rows) and rows else 0
        rows = fresh
        await asyncio.sleep(1.0)
    return {r["request_id"]: dict(r) for r in rows}


async def stored_answers(dsn: str, outcomes: list[Outcome]) -> dict[int, list[dict[str, Any]]]:
    """The stored assistant messages of the web chat's conversations (one question each)."""
    ids = [o.conversation_id for o in outcomes if o.conversation_id is not None]
    if not ids:
        return {}
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT conversation_id, status, content FROM messages "
            "WHERE role = 'assistant' AND conversation_id = ANY($1::int[])",
            ids,
        )
    finally:
        await conn.close()
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["conversation_id"], []).append(dict(row))
    return out


def answer_problem(o: Outcome, stored: list[dict[str, Any]]) -> str | None:
    """Why the stored answer of a web chat turn is not what its client saw (None: it is).
    The stored text is exactly what streamed; a client that left read a prefix of it."""
    if len(stored) != 1:
        return f"{len(stored)} assistant messages stored"
    status, content = stored[0]["status"], stored[0]["content"]
    expected = {"ok": ("complete",), "error_event": ("error",)}.get(o.kind)
    if expected is not None:
        if status not in expected or content != o.text:
            return f"stored {status} ({len(content)} chars) for {o.kind} ({len(o.text)} chars)"
        return None
    left_badly = status not in ("interrupted", "complete") or not content.startswith(o.text)
    if o.kind == "abandoned" and left_badly:
        return f"stored {status} for a client that left"
    return None


def recovery_s(outcomes: list[Outcome], t_clear: float, t_stop: float) -> float | None:
    """Seconds from `t_clear` to the first whole second from which every request started
    succeeded fully (0: at once); None when that never happened before the load stopped."""
    after = [o for o in outcomes if o.t_start >= t_clear]
    if not after:
        return None
    failed = [o.t_start for o in after if not o.fully_ok(FULLY_OK_TTFT_S)]
    if not failed:
        return 0.0
    second = math.floor(max(failed) - t_clear) + 1
    if not any(o.t_start >= t_clear + second for o in after) or t_clear + second > t_stop:
        return None
    return float(second)


def timeline(outcomes: list[Outcome], t_ref: float) -> list[dict[str, int]]:
    """Per second (from `t_ref`, by start): requests started, fully ok, failed."""
    buckets: dict[int, Counter[str]] = {}
    for o in outcomes:
        second = math.floor(o.t_start - t_ref)
        kind = "ok" if o.fully_ok(FULLY_OK_TTFT_S) else ("slow" if o.kind == "ok" else "failed")
        buckets.setdefault(second, Counter())[kind] += 1
    return [{"t": s, **buckets[s]} for s in sorted(buckets)]


def account(
    outcomes: list[Outcome],
    rows: dict[str, dict[str, Any]],
    *,
    excused: set[int] = frozenset(),  # type: ignore[assignment]
    answers: dict[int, list[dict[str, Any]]] | None = None,
    t0: float = 0.0,
) -> dict[str, Any]:
    """Counts by end, status, error type; what was lost. `excused`: request numbers whose
    usage row cannot exist (streams of a replica killed mid-stream)."""
    kinds = Counter(o.kind for o in outcomes)
    statuses = Counter(str(o.status) for o in outcomes if o.kind != "ok")
    errors = Counter(
        " ".join(
            str(part) for part in (o.kind, o.status if o.kind == "http" else "", o.error) if part
        )
        for o in outcomes
        if o.kind not in ("ok", "abandoned")
    )
    answered = [o for o in outcomes if o.kind == "ok"]
    retry_after = sorted({o.retry_after for o in outcomes if o.retry_after})
    streamed = [
        o
        for o in outcomes
        if o.status == 200 and not (o.kind == "error_event" and o.error in NOT_SENT_UPSTREAM)
    ]
    missing = [o for o in streamed if o.request_id not in rows and o.n not in excused]
    ok_but_row_failed = [
        o
        for o in streamed
        if o.kind == "ok" and o.request_id in rows and rows[o.request_id]["status_code"] != 200
    ]
    unclear = [o for o in outcomes if o.kind not in CLEAR_KINDS and o.n not in excused]
    web = [o for o in outcomes if o.conversation_id is not None and o.n not in excused]
    wrong_answers = [
        (o, problem)
        for o in web
        if (problem := answer_problem(o, (answers or {}).get(o.conversation_id or 0, [])))
    ]
    return {
        "requests": len(outcomes),
        "ended": dict(kinds),
        "error_rate": round(1 - kinds["ok"] / len(outcomes), 4) if outcomes else 0.0,
        "statuses_of_failures": dict(statuses),
        "errors": dict(errors.most_common(12)),
        "retry_after": retry_after,
        "http_statuses": dict(Counter(o.status for o in outcomes if o.kind == "http")),
        "slowest_answer_s": round(max((o.t_end - o.t_start for o in answered), default=0), 2),
        "slowest_first_token_s": round(max((o.ttft_s or 0 for o in answered), default=0), 2),
        "usage_rows": len(rows),
        "usage_rows_for_non_200": sum(
            1 for o in outcomes if o.status not in (None, 200) and o.request_id in rows
        ),
        "lost": {
            "hung": kinds["timeout"],
            "missing_usage_rows": len(missing),
            "unclear_ends": len(unclear),  # cut streams (no [DONE], no error frame)
            "ok_but_row_says_error": len(ok_but_row_failed),
            "web_turns_checked": len(web),
            "stored_answer_wrong": len(wrong_answers),
            # Of those: a stream cut without `done` or `error`, and no answer stored at all.
            "web_cut_unstored": sum(
                1 for o, p in wrong_answers if o.kind == "cut" and p.startswith("0 ")
            ),
            "stored_answer_examples": [
                {**o.record(t0), "problem": p} for o, p in wrong_answers[:5]
            ],
            "excused": len(excused),
            # Web turns of a killed replica: is anything of their answer stored?
            "excused_web_turns": sum(
                1 for o in outcomes if o.n in excused and o.conversation_id is not None
            ),
            "excused_web_answers_stored": sum(
                1
                for o in outcomes
                if o.n in excused and (answers or {}).get(o.conversation_id or 0)
            ),
            "examples": [o.record(t0) for o in (missing + unclear)[:5]],
        },
    }
