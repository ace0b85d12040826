"""The chaos suite, short form: the production topology as processes (nginx with TLS, two
gateway replicas of two workers, PostgreSQL, Redis, `gpuchat supervisor` with the fake
engine), 6 streams through nginx, and one fault at a time (tests/utils/stack/chaos.py).

Targets (QUALITY.md, "Streams and faults" and "Many processes"): no request hangs; every
request ends with a complete answer or a clear error (an HTTP error or an in-stream error
frame, never a stream cut without either); every streamed request has its usage row; a
killed replica fails only the streams it was serving; after Redis or PostgreSQL come back,
the service is fully back within 5 s. `make chaos` runs the long form (20 streams).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.utils.stack import Stack, StackConfig, report
from tests.utils.stack.chaos import FAULTS, SHORT, run_fault
from tests.utils.stack.services import nginx_binary

pytestmark = pytest.mark.chaos

# After Redis or PostgreSQL come back, the service is fully back within 5 s; after the
# other faults, before the phase ends.
BACK_WITHIN_S = {"restart_redis": 5.0, "restart_postgres": 5.0, "freeze_redis": 5.0}


def _missing_tools() -> str | None:
    try:
        nginx_binary()
    except FileNotFoundError as exc:
        return str(exc)
    if shutil.which("redis-server") is None:
        return "redis-server"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("initdb"):
        return "PostgreSQL's initdb"
    return None


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"the chaos suite needs {missing}")
    # Not under pytest's 0700 temp root: as root, PostgreSQL and nginx's workers run as
    # other users and must reach their directories.
    root = Path(tempfile.mkdtemp(prefix="gpuchat-chaos-"))
    root.chmod(0o755)
    try:
        with Stack(StackConfig(root=root)) as running:
            yield running
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _violations(fault: str, result: dict[str, Any]) -> dict[str, str]:
    """Every target this phase missed: {check: evidence}."""
    acc = result["account"]
    lost = acc["lost"]
    out: dict[str, str] = {}
    if lost["hung"]:
        out["hung"] = str(result["failed_after_fault"][:3])
    if lost["missing_usage_rows"]:
        out["usage_row_missing"] = str(lost["examples"][:3])
    if lost["ok_but_row_says_error"]:
        out["usage_row_wrong"] = str(lost["ok_but_row_says_error"])
    if not lost["web_turns_checked"]:
        out["no_web_turns"] = "no web chat turn reached the stream"
    wrong = lost["stored_answer_examples"]
    cut = lost["web_cut_unstored"]
    if cut and cut == lost["stored_answer_wrong"] == lost["unclear_ends"]:
        out["web_answer_lost"] = str(wrong[:3])
    else:
        if lost["unclear_ends"]:
            out["unclear_end"] = str(lost["examples"][:3])
        if lost["stored_answer_wrong"]:
            out["stored_answer_wrong"] = str(wrong[:3])
    if fault == "kill_gateway":
        # Only the streams the killed replica was serving failed (cut when it died).
        failed = acc["requests"] - acc["ended"].get("ok", 0)
        if failed != lost["excused"] or failed > result["in_flight_at_fault"]:
            out["failover"] = str(result["failed_after_fault"][:5])
    recovered = result["recovery_s"]
    if recovered is None or (fault in BACK_WITHIN_S and recovered > BACK_WITHIN_S[fault]):
        out["recovery"] = str(result["timeline"])
    # A request refused during a fault is refused fast with 503 (QUALITY.md: an engine
    # down, the database down), never a 500.
    refused = {int(s): n for s, n in acc["http_statuses"].items() if int(s) != 503}
    if refused:
        out["refused_not_503"] = str(acc["errors"])
    return out


@pytest.mark.parametrize("fault", FAULTS)
async def test_chaos_fault_loses_nothing_and_recovers(stack: Stack, fault: str) -> None:
    result = await run_fault(stack, fault, SHORT)
    print(f"{fault}: {report.one_line(result)}")  # what clients saw, with -s or -rA
    violations = _violations(fault, result)
    assert not violations, violations
