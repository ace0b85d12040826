"""Admin: model profiles. See what runs, switch the active model, stop an engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter

from gpuchat.api.deps import AdminPrincipal, AuditActor, StateDep
from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.db.repositories import runtime
from gpuchat.engines.control import (
    ControlRefused,
    EngineUnavailable,
    SwitchConflict,
    UnknownModel,
)
from gpuchat.engines.profiles import Profile
from gpuchat.schemas.engines import (
    EnginePublic,
    EngineSwitched,
    ProfilePolicyPublic,
    ProfilesPublic,
    SamplingDefaultsPublic,
)
from gpuchat.services.audit.record import Action, Target, record
from gpuchat.state import AppState

router = APIRouter(prefix="/api/admin/profiles", tags=["admin"])

SWITCH_RETRY_S = 5


@contextmanager
def control_errors() -> Iterator[None]:
    """Engine-control refusals as the one error envelope."""
    try:
        yield
    except UnknownModel as exc:
        raise GatewayError(
            404, f"There is no profile '{exc.alias}'", code="profile_not_found"
        ) from exc
    except SwitchConflict as exc:
        raise GatewayError(
            409,
            exc.message,
            code="switch_in_progress",
            retry_after=SWITCH_RETRY_S,
            notice=exc.notice,
        ) from exc
    except ControlRefused as exc:
        raise GatewayError(409, exc.message, code="not_possible", notice=exc.notice) from exc
    except EngineUnavailable as exc:
        raise GatewayError(
            503,
            exc.message,
            code="engine_unavailable",
            retry_after=exc.retry_after,
            notice=exc.notice,
        ) from exc


def _state(state: AppState, name: str) -> str | None:
    return next((str(s.state) for s in state.engines.statuses() if s.name == name), None)


@router.get("")
async def list_profiles(_: AdminPrincipal, state: StateDep) -> ProfilesPublic:
    """Every profile: state, health, pid, port, uptime, progress, GPUs, last error, and the
    policy it applies (sampling defaults, system prompt)."""
    statuses = state.engines.statuses()
    return ProfilesPublic(
        active=state.engines.profile_for("default").name,
        data=[EnginePublic.model_validate(status.model_dump()) for status in statuses],
        policies={
            status.name: _policy(state.engines.profile_for(status.name)) for status in statuses
        },
    )


def _policy(profile: Profile) -> ProfilePolicyPublic:
    return ProfilePolicyPublic(
        defaults=SamplingDefaultsPublic.model_validate(profile.defaults.model_dump()),
        max_tokens_cap=profile.limits.max_tokens,
        system_prompt=profile.system_prompt,
    )


@router.post("/{name}/activate", status_code=202)
async def activate_profile(name: str, actor: AuditActor, state: StateDep) -> EngineSwitched:
    """Begin the switch and answer at once; its progress shows in GET and in the live feed.
    The choice is kept: a restarted gateway (or supervisor) comes back on this profile."""
    # An activation of the profile already chosen (to start it after a stop) has no change
    # to show, but is recorded all the same.
    before = {"active": state.engines.profile_for("default").name}
    with control_errors():
        status = await state.engines.activate(name)
    async with session_scope(state.sessions) as session:
        await runtime.put(session, runtime.ACTIVE_PROFILE, status.name, user_id=actor.user_id)
        after = {"active": status.name}
        target = Target("profile", status.name, status.name)
        record(session, actor, Action.engine_switch, target, before, after)
    benchmark = state.benchmarks is not None and state.benchmarks.after_switch(name)
    return EngineSwitched.model_validate({**status.model_dump(), "benchmark": benchmark})


@router.post("/{name}/stop", status_code=202)
async def stop_profile(name: str, actor: AuditActor, state: StateDep) -> EnginePublic:
    """Drain and stop the engine; it is not started on demand until activated again."""
    before = _state(state, name)
    with control_errors():
        status = await state.engines.stop(name)
    async with session_scope(state.sessions) as session:
        target = Target("profile", status.name, status.name)
        record(
            session,
            actor,
            Action.engine_stop,
            target,
            {"state": before},
            {"state": str(status.state)},
        )
    return EnginePublic.model_validate(status.model_dump())
