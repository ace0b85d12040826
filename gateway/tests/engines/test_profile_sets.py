"""A new profile set while engines run (the admin's profile editor): in process and
through `gpuchat supervisor` (`PUT /control/profiles`), where the set of the highest
revision wins whatever order several gateway processes' pushes arrive in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from gpuchat.engines.control import ControlRefused, EngineControl, UnknownModel
from gpuchat.engines.profiles import ProfilesFile
from gpuchat.engines.remote import RemoteEngineControl
from tests.engines.conftest import SUPERVISOR_SECRET
from tests.engines.test_manager import eventually
from tests.engines.test_supervisor import serving

FakeProfile = Callable[..., dict[str, Any]]
ControlFactory = Callable[..., EngineControl]


def profile_set(*profiles: dict[str, Any], default: str | None = None) -> ProfilesFile:
    return ProfilesFile.model_validate({"default": default, "profiles": list(profiles)})


def status(control: EngineControl, name: str) -> Any:
    return next(s for s in control.statuses() if s.name == name)


async def test_a_new_profile_is_usable_at_once(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    first = fake_profile("first", aliases=["one"])
    control = make_control(first)
    await control.start()
    await control.ensure_ready("first")

    await control.replace_profiles(profile_set(first, fake_profile("second", aliases=["two"])))
    upstream = await control.acquire("two")
    upstream.release()

    assert upstream.profile.name == "second"
    assert [s.name for s in control.statuses()] == ["first", "second"]
    assert control.is_ready("first")


async def test_an_edit_of_a_running_profile_applies_at_its_restart(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    control = make_control(fake_profile("tool", description="old"))
    await control.start()
    await control.ensure_ready("tool")
    pid = status(control, "tool").pid

    await control.replace_profiles(profile_set(fake_profile("tool", description="new")))
    edited = status(control, "tool")
    await control.activate("tool", wait=True)
    restarted = status(control, "tool")

    assert (edited.restart_needed, edited.pid) == (True, pid)
    assert (restarted.restart_needed, restarted.state) == (False, "ready")
    assert restarted.pid != pid
    assert control.profile_for("tool").description == "new"


async def test_dropping_the_active_or_a_running_profile_is_refused(
    make_control: ControlFactory, fake_profile: FakeProfile
) -> None:
    active, spare = fake_profile("active", gpus=[0]), fake_profile("spare", gpus=[1])
    control = make_control(active, spare, default="active")
    await control.start()
    await control.ensure_ready("active")
    await control.ensure_ready("spare")

    with pytest.raises(ControlRefused):
        await control.replace_profiles(profile_set(spare))
    with pytest.raises(ControlRefused):
        await control.replace_profiles(profile_set(active))
    names_after_refusals = [s.name for s in control.statuses()]
    await control.stop("spare", wait=True)
    await control.replace_profiles(profile_set(active))

    assert names_after_refusals == ["active", "spare"]
    assert [s.name for s in control.statuses()] == ["active"]


async def test_put_profiles_needs_the_secret_and_json(
    make_manager: Callable[..., Any], fake_profile: FakeProfile
) -> None:
    profile = fake_profile("tool")
    manager = make_manager(profile)
    body = profile_set(profile, fake_profile("intruder")).model_dump(mode="json")
    auth = {"Authorization": f"Bearer {SUPERVISOR_SECRET}"}
    async with serving(manager, [profile]) as url, aiohttp.ClientSession() as http:
        async with http.put(f"{url}/control/profiles", json=body) as no_secret:
            pass
        async with http.put(
            f"{url}/control/profiles", data="profiles: []", headers=auth
        ) as not_json:
            pass
        async with http.put(f"{url}/control/profiles", json={"x": 1}, headers=auth) as bad:
            pass
        names_before = [s.name for s in manager.statuses()]
        async with http.put(f"{url}/control/profiles", json=body, headers=auth) as ok:
            reply = await ok.json()
        async with http.get(f"{url}/control/profiles", headers=auth) as listed:
            served = await listed.json()

    assert (no_secret.status, not_json.status, bad.status) == (401, 415, 422)
    assert names_before == ["tool"]
    assert ok.status == 200
    assert reply["profiles"]
    assert [p["name"] for p in served["profiles"]] == ["tool", "intruder"]


async def test_a_push_older_than_the_set_held_is_ignored(
    make_manager: Callable[..., Any], fake_profile: FakeProfile
) -> None:
    tool = fake_profile("tool")
    manager = make_manager(tool)
    newer = profile_set(tool, fake_profile("newer")).model_dump(mode="json")
    older = profile_set(tool, fake_profile("older")).model_dump(mode="json")
    auth = {"Authorization": f"Bearer {SUPERVISOR_SECRET}"}
    async with serving(manager, [tool]) as url, aiohttp.ClientSession(headers=auth) as http:
        async with http.put(f"{url}/control/profiles?revision=5", json=newer) as first:
            taken = await first.json()
        # Sent before the first, delivered after it: an older set.
        async with http.put(f"{url}/control/profiles?revision=4", json=older) as late:
            ignored = await late.json()
        async with http.get(f"{url}/control/profiles") as listed:
            served = await listed.json()
        async with http.put(f"{url}/control/profiles?revision=soon", json=older) as bad:
            pass

    assert (first.status, taken["applied"], taken["revision"]) == (200, True, 5)
    assert (late.status, ignored["applied"], ignored["revision"]) == (200, False, 5)
    assert ignored["profiles"] == taken["profiles"]  # the version clients read: unchanged
    assert [p["name"] for p in served["profiles"]] == ["tool", "newer"]
    assert [s.name for s in manager.statuses()] == ["tool", "newer"]
    assert bad.status == 422


async def test_two_gateway_processes_pushing_out_of_order_both_end_on_the_newer_set(
    make_manager: Callable[..., Any], fake_profile: FakeProfile
) -> None:
    tool = fake_profile("tool")
    manager = make_manager(tool)
    async with serving(manager, [tool]) as url:
        editor = RemoteEngineControl(url, SUPERVISOR_SECRET, poll_s=0.05)
        stale = RemoteEngineControl(url, SUPERVISOR_SECRET, poll_s=0.05)
        try:
            await editor.start(launch_default=False)
            await stale.start(launch_default=False)
            await editor.replace_profiles(profile_set(tool, fake_profile("newer")), revision=2)
            await stale.replace_profiles(profile_set(tool, fake_profile("older")), revision=1)

            def knows_newer() -> bool:
                try:
                    return stale.profile_for("newer").name == "newer"
                except UnknownModel:
                    return False

            await eventually(knows_newer)  # the late process reads the set held
            with pytest.raises(UnknownModel):
                stale.profile_for("older")
        finally:
            await editor.close()
            await stale.close()
    assert [s.name for s in manager.statuses()] == ["tool", "newer"]
