"""Model switches and engine stops in the audit log: one entry each, none when refused."""

from __future__ import annotations

from typing import Any

from tests.api.admin.test_profiles import wait_until_active, wait_until_stopped
from tests.utils.gateway import ADMIN_EMAIL, RunningGateway


def active(change: dict[str, Any] | None) -> Any:
    return (change or {}).get("active")


async def test_switches_and_stops_are_recorded_and_refusals_are_not(
    switch_gateway: RunningGateway,
) -> None:
    async with switch_gateway.client() as admin:
        switched = await admin.post("/api/admin/profiles/beta/activate")
        conflict = await admin.post("/api/admin/profiles/alpha/activate")  # beta still loading
        unknown = await admin.post("/api/admin/profiles/nope/activate")
        await wait_until_active(admin, "beta")
        external = await admin.post("/api/admin/profiles/remote/stop")
        stream = await admin.post("/api/admin/streams/no-such-request/stop")
        back = await admin.post("/api/admin/profiles/alpha/activate")
        await wait_until_active(admin, "alpha")
        stopped = await admin.post("/api/admin/profiles/alpha/stop")
        await wait_until_stopped(admin, "alpha")
        await admin.post("/api/admin/profiles/alpha/activate")
        await wait_until_active(admin, "alpha")
        log = (await admin.get("/api/admin/audit", params={"target": "profile"})).json()["data"]
        streams = (await admin.get("/api/admin/audit", params={"action": "stream"})).json()

    statuses = [r.status_code for r in (switched, conflict, unknown, external, stream, back)]
    assert statuses == [202, 409, 404, 409, 404, 202]
    assert stopped.status_code == 202
    seen: list[tuple[str, Any, Any, Any]] = [
        (e["action"], e["target_id"], active(e["before"]), active(e["after"]))
        for e in reversed(log)
    ]
    assert seen[-4:] == [
        ("engine.switch", "beta", "alpha", "beta"),
        ("engine.switch", "alpha", "beta", "alpha"),
        ("engine.stop", "alpha", None, None),
        ("engine.switch", "alpha", None, None),  # already the default: a start, no change
    ]
    assert log[1]["before"] == {"state": "ready"}
    assert log[1]["after"] == {"state": stopped.json()["state"]}
    assert (log[0]["before"], log[0]["after"]) == (None, None)
    assert {e["actor_email"] for e in log} == {ADMIN_EMAIL}
    assert streams["total"] == 0
