"""The active profile is a choice that outlives a process: a restarted gateway comes back on
the profile the admin switched to, not on the profiles file's default (a restarted
supervisor: tests/engines/test_supervisor.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, start_gateway

FAKE_UPSTREAM = Path(__file__).parents[1] / "fakes" / "upstream.py"


def _profiles(path: Path) -> Path:
    def fake(name: str) -> str:
        argv = [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}"]
        return f"""
  - name: {name}
    engine: command
    command: {argv!r}
    health: /health
    served_model_name: {name}
    timeouts: {{start: 20}}"""

    path.write_text(f"default: first\nprofiles:{fake('first')}{fake('second')}\n")
    return path


async def test_a_restarted_gateway_keeps_the_profile_the_admin_switched_to(
    tmp_path: Path,
) -> None:
    options = {
        "data_dir": tmp_path,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "profiles": _profiles(tmp_path / "profiles.yaml"),
    }
    async with (
        start_gateway(**options) as gateway,
        gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin,
    ):
        switched = await admin.post("/api/admin/profiles/second/activate")
        assert switched.status_code == 202, switched.text

    async with start_gateway(**options) as gateway:
        async with gateway.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
            profiles = (await admin.get("/api/admin/profiles")).json()
        async with gateway.client() as client:
            answer = await client.post(
                "/v1/chat/completions",
                json={"model": "default", "messages": [{"role": "user", "content": "hi"}]},
            )
    assert profiles["active"] == "second"
    states = {p["name"]: p["state"] for p in profiles["data"]}
    assert states["first"] == "stopped"  # the file's default was not started at all
    assert answer.status_code == 200
    assert answer.json()["model"] == "second"
