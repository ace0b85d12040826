"""Routing among the replicas of an `external` profile (DESIGN §6).

A request goes to the healthy replica with the fewest outstanding requests. A request that
names a conversation (an affinity key) goes back to the replica that served that
conversation before, while it is healthy, so the engine's prefix cache still holds the
conversation's earlier turns. A replica that cannot be reached is skipped until a probe
finds it healthy again; the manager runs the probes (`due_for_probe`, `mark`). A request
that failed on a replica before any answer came asks for another (`pick(avoid=...)`): the relay
fails it over (services/relay/stream.py, `open_upstream`).

All of this is plain bookkeeping on the event loop: no awaits, so no locks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from gpuchat.core.notices import Notice
from gpuchat.engines.control import EngineUnavailable, ReplicaStatus

AFFINITY_ENTRIES: Final = 10_000  # conversations remembered (least recently used dropped)
PROBE_HEALTHY_S: Final = 15.0
PROBE_UNHEALTHY_FIRST_S: Final = 1.0
PROBE_UNHEALTHY_MAX_S: Final = 30.0


@dataclass(eq=False, slots=True)
class Replica:
    url: str  # OpenAI base URL, no trailing slash
    outstanding: int = 0
    healthy: bool = True
    failures: int = 0  # consecutive failed probes or connects, for the probe backoff
    next_probe: float = 0.0  # monotonic


class ReplicaSet:
    def __init__(self, urls: tuple[str, ...]) -> None:
        self.replicas = [Replica(url) for url in urls]
        self._affinity: OrderedDict[str, Replica] = OrderedDict()
        self._turn = 0  # rotates the tie-break so equal replicas share the load

    def pick(self, affinity: str | None, avoid: tuple[str, ...] = ()) -> Replica:
        """The replica for the next request; counts it outstanding.

        When every replica is down the request still goes to one of them: the client gets
        a fast 502 with Retry-After from the relay, and a server that came back is used at
        once instead of after the next probe. `avoid`: the replicas (URLs) this request
        failed on before any answer came; only a healthy one it has not tried will do (the
        conversation moves with it), else EngineUnavailable.
        """
        replica = self._affine(affinity, avoid)
        if replica is None:
            healthy = [r for r in self.replicas if r.healthy and r.url not in avoid]
            if not healthy and avoid:
                raise EngineUnavailable(
                    Notice("no_healthy_replica", "no other replica is healthy"), self.retry_after()
                )
            replica = self._least_outstanding(healthy or self.replicas, affinity)
        replica.outstanding += 1
        return replica

    def _least_outstanding(self, candidates: list[Replica], affinity: str | None) -> Replica:
        self._turn = (self._turn + 1) % len(candidates)
        rotated = candidates[self._turn :] + candidates[: self._turn]
        replica = min(rotated, key=lambda r: r.outstanding)
        if affinity is not None:
            self._affinity[affinity] = replica
            self._affinity.move_to_end(affinity)
            if len(self._affinity) > AFFINITY_ENTRIES:
                self._affinity.popitem(last=False)
        return replica

    def _affine(self, affinity: str | None, avoid: tuple[str, ...]) -> Replica | None:
        if affinity is None:
            return None
        replica = self._affinity.get(affinity)
        if replica is None or not replica.healthy or replica.url in avoid:
            return None
        self._affinity.move_to_end(affinity)
        return replica

    def release(self, replica: Replica, *, failed: bool) -> None:
        replica.outstanding = max(0, replica.outstanding - 1)
        if failed:
            self.mark(replica, healthy=False)

    def mark(self, replica: Replica, *, healthy: bool) -> None:
        now = time.monotonic()
        if healthy:
            replica.healthy, replica.failures = True, 0
            replica.next_probe = now + PROBE_HEALTHY_S
            return
        replica.healthy = False
        delay = min(PROBE_UNHEALTHY_MAX_S, PROBE_UNHEALTHY_FIRST_S * 2**replica.failures)
        replica.failures += 1
        replica.next_probe = now + delay

    def due_for_probe(self) -> list[Replica]:
        now = time.monotonic()
        return [r for r in self.replicas if r.next_probe <= now]

    def retry_after(self) -> int:
        """Seconds until some unhealthy replica is probed again (for Retry-After)."""
        now = time.monotonic()
        waits = [r.next_probe - now for r in self.replicas if not r.healthy]
        return max(1, round(min(waits, default=1.0)))

    @property
    def any_healthy(self) -> bool:
        return any(r.healthy for r in self.replicas)

    def statuses(self) -> tuple[ReplicaStatus, ...]:
        return tuple(
            ReplicaStatus(url=r.url, healthy=r.healthy, outstanding=r.outstanding)
            for r in self.replicas
        )
