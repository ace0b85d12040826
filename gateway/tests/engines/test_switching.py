"""Switching profiles: drain, wait, one switch at a time, one engine per GPU, progress.

The engines are the fake OpenAI upstream (tests/fakes/upstream.py) run as `command`
profiles, told to load slowly, print progress, crash or hang on health.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from gpuchat.engines.control import (
    ControlRefused,
    EngineControl,
    EngineState,
    EngineUnavailable,
    SwitchConflict,
    Upstream,
)
from tests.engines.test_manager import eventually

FakeProfile = Callable[..., dict[str, Any]]
ControlFactory = Callable[..., EngineControl]


def state_of(manager: EngineControl, name: str) -> EngineState:
    return next(s.state for s in manager.statuses() if s.name == name)


async def stream(upstream: Upstream, prompt: str) -> tuple[str, str]:
    """Stream one answer under the caller's lease; returns (text, ending frame)."""
    body = {
        "model": upstream.model,
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
    }
    text, last = "", ""
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{upstream.base_url}/chat/completions", json=body) as response,
        ):
            assert upstream.lease is not None
            upstream.lease.on_revoke = response.close  # what the relay does
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                last = line
                if line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
    except aiohttp.ClientError:
        last = "broken"
    finally:
        upstream.release()
    return text, last


async def test_switch_under_load_finishes_streams_and_serves_waiting_requests_on_the_new_profile(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(
        upstream_profile("old", aliases=["default"], gpus=[0]),
        upstream_profile("new", "--load-seconds", "1", gpus=[0]),
        default="old",
    )
    leases = [await manager.acquire("default") for _ in range(4)]
    streams = [asyncio.create_task(stream(u, "!tokens 15 !gap 0.1")) for u in leases]
    await asyncio.sleep(0.3)  # the streams are under way

    await manager.activate("new")
    assert state_of(manager, "old") is EngineState.draining
    waiting = [asyncio.create_task(manager.acquire("default")) for _ in range(3)]
    await asyncio.sleep(0.2)
    assert not any(task.done() for task in waiting)  # they wait for the switch

    results = await asyncio.gather(*streams)
    served = await asyncio.gather(*waiting)

    assert [last for _, last in results] == ["data: [DONE]"] * 4
    assert all(text == " ".join(f"t{n}" for n in range(15)) for text, _ in results)
    assert {u.profile.name for u in served} == {"new"}
    texts = await asyncio.gather(*(stream(u, "hello") for u in served))
    assert [text for text, _ in texts] == ["echo: hello"] * 3
    assert state_of(manager, "old") is EngineState.stopped
    assert manager.profile_for("default").name == "new"


async def test_drain_grace_ends_streams_that_run_too_long_with_an_error(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(
        upstream_profile("old", timeouts={"drain": 0.5}),
        upstream_profile("new"),
        default="old",
    )
    upstream = await manager.acquire("old")
    long_stream = asyncio.create_task(stream(upstream, "!tokens 100 !gap 0.1"))
    await asyncio.sleep(0.3)

    started = time.monotonic()
    await manager.activate("new", wait=True)

    _, last = await long_stream
    assert last != "data: [DONE]"  # cut off, never a silent complete answer
    assert time.monotonic() - started < 5
    assert manager.is_ready("default")


async def test_second_concurrent_switch_is_refused(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(
        upstream_profile("a"), upstream_profile("b", "--load-seconds", "1"), default="a"
    )
    await manager.ensure_ready("a")

    await manager.activate("b")
    with pytest.raises(SwitchConflict):
        await manager.activate("a")
    with pytest.raises(SwitchConflict):
        await manager.stop("b")

    await eventually(lambda: manager.is_ready("default"))
    await manager.activate("a", wait=True)  # once the first is done, the next may go
    assert manager.profile_for("default").name == "a"


async def test_two_engines_never_share_a_gpu(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(
        upstream_profile("a", gpus=[0, 1]),
        upstream_profile("b", gpus=[1]),
        upstream_profile("c", gpus=[2]),
        default="a",
    )
    await manager.ensure_ready("a")

    with pytest.raises(EngineUnavailable, match="its GPUs serve 'a'"):
        await manager.ensure_ready("b")
    await manager.ensure_ready("c")  # another GPU: both run

    await manager.activate("b", wait=True)

    states = {s.name: s.state for s in manager.statuses()}
    assert states == {"a": EngineState.stopped, "b": EngineState.ready, "c": EngineState.ready}


async def test_loading_progress_rises_from_the_engine_log(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(
        upstream_profile("a"),
        upstream_profile("slow", "--load-seconds", "2", "--progress"),
        default="a",
    )
    await manager.ensure_ready("a")

    await manager.activate("slow")
    seen: list[float] = []
    while not manager.is_ready("default"):
        status = next(s for s in manager.statuses() if s.name == "slow")
        if status.progress is not None and (not seen or status.progress != seen[-1]):
            seen.append(status.progress)
        await asyncio.sleep(0.05)

    status = next(s for s in manager.statuses() if s.name == "slow")
    assert (status.progress, status.phase) == (100.0, "ready")
    assert seen == sorted(seen)
    assert len([p for p in seen if 0 < p < 100]) >= 2  # intermediate steps were visible


async def test_hanging_start_times_out_to_failed_with_the_log_tail(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(upstream_profile("stuck", "--hang-health", start=4))

    with pytest.raises(EngineUnavailable):
        await manager.ensure_ready("stuck")

    [status] = manager.statuses()
    assert status.state is EngineState.failed
    assert status.last_error is not None
    assert "did not become healthy within 4s" in status.last_error
    assert "fake upstream listening on port" in status.last_error


async def test_crashing_engine_is_restarted_and_its_state_visible(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(upstream_profile("crashy", "--crash-after", "0.5"))
    await manager.ensure_ready("crashy")
    first = manager.statuses()[0].pid

    await eventually(lambda: manager.statuses()[0].state is EngineState.failed, within=5)
    assert "simulated engine crash" in (manager.statuses()[0].last_error or "")
    await eventually(lambda: manager.is_ready("crashy") and manager.statuses()[0].pid != first)


async def test_stopped_profile_stays_stopped_until_activated(
    make_control: ControlFactory, upstream_profile: FakeProfile
) -> None:
    manager = make_control(
        upstream_profile("a", aliases=["default"]),
        {"name": "remote", "engine": "external", "urls": ["http://127.0.0.1:9/v1"]},
    )
    upstream = await manager.acquire("default")
    streaming = asyncio.create_task(stream(upstream, "!tokens 5 !gap 0.05"))

    status = await manager.stop("a", wait=True)

    assert (await streaming)[1] == "data: [DONE]"  # drained first
    assert (status.held, state_of(manager, "a")) == (True, EngineState.stopped)
    with pytest.raises(EngineUnavailable, match="stopped by an administrator"):
        await manager.acquire("default")
    with pytest.raises(ControlRefused):
        await manager.stop("remote")
    await manager.activate("a", wait=True)
    assert manager.is_ready("default")
