"""What replacing the profile set changes, decided before anything changes (manager.py
applies it). An administrator edits profiles while engines run: new profiles are added,
edited ones wait for their engine's next start, and removing one that runs is refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gpuchat.engines.control import ControlRefused, EngineState
from gpuchat.engines.launchers import plan_launch
from gpuchat.engines.profiles import EngineKind, Profile, ProfilesFile
from gpuchat.engines.replicas import ReplicaSet
from gpuchat.engines.runtime import EngineRuntime


@dataclass
class Replacement:
    added: list[Profile] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    edited: list[tuple[EngineRuntime, Profile]] = field(default_factory=list)
    unchanged: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        edited = [engine.profile.name for engine, _ in self.edited]
        added = [p.name for p in self.added]
        return f"added {added}, edited {edited}, removed {self.removed}"


def aliases(profiles: ProfilesFile) -> dict[str, str]:
    """Every name a client may use (but `default`) -> the profile's name."""
    return {n: p.name for p in profiles.profiles for n in p.names if n != "default"}


def _runs(engine: EngineRuntime) -> bool:
    return engine.spawned and engine.state is not EngineState.stopped


def plan_replacement(
    engines: Mapping[str, EngineRuntime],
    profiles: ProfilesFile,
    active: str,
    switching: frozenset[EngineRuntime],
) -> Replacement:
    """Raises ControlRefused (and nothing changes) when the set drops the active profile, a
    running one or one a switch is moving, or turns a running engine into an external one."""
    change = Replacement()
    wanted = {p.name: p for p in profiles.profiles}
    for name, engine in engines.items():
        if name in wanted:
            continue
        if name == active:
            raise ControlRefused(f"'{name}' is the active profile: switch to another first")
        if _runs(engine) or engine in switching:
            raise ControlRefused(f"'{name}' is running: stop it first")
        change.removed.append(name)
    for profile in profiles.profiles:
        current = engines.get(profile.name)
        if current is None:
            change.added.append(profile)
        elif current.profile == profile:
            change.unchanged.add(profile.name)
        else:
            if profile.engine is EngineKind.external and _runs(current):
                raise ControlRefused(f"'{profile.name}' is running: stop it first")
            change.edited.append((current, profile))
    return change


def take_profile(
    engine: EngineRuntime,
    profile: Profile,
    models_dir: Path,
    vllm_command: tuple[str, ...] | None,
) -> None:
    """A stopped (or external) engine takes new settings now (the manager's call)."""
    engine.profile, engine.pending = profile, None
    if engine.spawned:
        engine.plan, engine.replicas, engine.state = None, None, EngineState.stopped
        return
    engine.plan = plan_launch(profile, models_dir=models_dir, vllm_command=vllm_command)
    engine.replicas = ReplicaSet(engine.plan.base_urls)
    engine.model = None  # learnt again from the new URLs
    engine.state = EngineState.ready  # nothing to run; health is the upstream's
