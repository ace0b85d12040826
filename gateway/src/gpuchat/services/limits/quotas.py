"""Usage limits per user and per API key: requests and tokens per minute, concurrent
streams, and token quotas per day and per month (UTC) that count the web chat and the API
together, and requests per day and per month. 0 means "no limit"; the defaults come from
settings. A user's groups may set their own limits: a user in several groups gets, limit by
limit, the most generous of them (0, no limit, beats any number; a group that leaves a limit
unset gives the default for it). An admin's per-user `limits` override both.

`admit()` runs before anything goes upstream and raises a 429 with `Retry-After` and
`X-RateLimit-*` headers. Tokens are charged after each request from the usage record the
relay hands to the usage recorder (`charge()` is synchronous; a background task does the
counting). Day and month counters are seeded from the `requests` table on first use, so a
restart (or a Redis flush) does not reset anyone's quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import Client, UsageRow
from gpuchat.services.limits.store import LimitStore
from gpuchat.services.usage.recorder import UsageRecord

log = structlog.get_logger(__name__)

STREAM_COUNTER_TTL = 3600  # a stream counter nobody decrements (a crashed replica) fades
MAX_PENDING_JOBS = 10_000


@dataclass(frozen=True, slots=True)
class Policy:
    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    concurrent_streams: int = 0
    tokens_per_day: int = 0
    tokens_per_month: int = 0
    requests_per_day: int = 0
    requests_per_month: int = 0

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Policy:
        names = {f.name for f in fields(self)}
        changes = {k: int(v) for k, v in (overrides or {}).items() if k in names and v is not None}
        return replace(self, **changes) if changes else self

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    @staticmethod
    def most_generous(policies: list[Policy]) -> Policy:
        """Limit by limit, the largest; 0 (no limit) is larger than any number."""
        values = {f.name: [getattr(p, f.name) for p in policies] for f in fields(Policy)}
        return Policy(**{k: 0 if 0 in v else max(v) for k, v in values.items()})


class Grant:
    """What `admit()` took: stream slots, given back once by `release()` (sync, repeatable)."""

    __slots__ = ("_release", "headers")

    def __init__(
        self, release: Callable[[], None] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self._release = release
        self.headers = headers or {}

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def period_start(period: str, now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def period_end(period: str, now: datetime) -> datetime:
    start = period_start(period, now)
    if period == "day":
        return start + timedelta(days=1)
    return (start + timedelta(days=32)).replace(day=1)


class UsageLimits:
    def __init__(
        self,
        settings: Settings,
        store: LimitStore,
        sessions: async_sessionmaker[AsyncSession],
        on_reject: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.user_policy = Policy(
            settings.user_requests_per_minute,
            settings.user_tokens_per_minute,
            settings.user_concurrent_streams,
            settings.user_tokens_per_day,
            settings.user_tokens_per_month,
            settings.user_requests_per_day,
            settings.user_requests_per_month,
        )
        self.key_policy = Policy(
            settings.key_requests_per_minute,
            settings.key_tokens_per_minute,
            settings.key_concurrent_streams,
        )
        self._store = store
        self._sessions = sessions
        self._on_reject = on_reject
        self._jobs: asyncio.Queue[Awaitable[None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._policies: dict[int, Policy] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-limits")

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._jobs.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def policy_for(self, principal: Principal) -> Policy:
        """The user's limits: the defaults, or the most generous of the user's groups, with
        the user's own overrides on top."""
        policy = self.user_policy
        if principal.group_limits:
            policy = Policy.most_generous(
                [policy.with_overrides(limits) for limits in principal.group_limits]
            )
        return policy.with_overrides(principal.limits)

    def _scopes(
        self, principal: Principal, user_policy: Policy | None = None
    ) -> list[tuple[str, Policy]]:
        user_policy = user_policy or self.policy_for(principal)
        scopes = [(f"u{principal.user_id}", user_policy)]
        if principal.api_key_id is not None:
            scopes.append((f"k{principal.api_key_id}", self.key_policy))
        return [(scope, policy) for scope, policy in scopes if policy.active]

    async def admit(self, principal: Principal) -> Grant:
        """Check every limit of the caller and take a stream slot; 429 when one is reached."""
        # The user's limits, read fresh on this request, for charging its tokens later.
        user_policy = self._policies[principal.user_id] = self.policy_for(principal)
        scopes = self._scopes(principal, user_policy)
        if not scopes:
            return Grant()
        for scope, policy in scopes:
            await self._check_quotas(scope, principal.user_id, policy)
            await self._check_tokens(scope, policy.tokens_per_minute)
        held: list[str] = []
        try:
            for scope, policy in scopes:
                if policy.concurrent_streams:
                    await self._take_stream(scope, policy.concurrent_streams)
                    held.append(scope)
            headers: dict[str, str] = {}
            for scope, policy in scopes:
                if policy.requests_per_minute:
                    hit = await self._hit_requests(scope, policy.requests_per_minute)
                    headers = headers or hit
            await self._count_request(principal.user_id, user_policy)
        except BaseException:
            self._release_streams(held)
            raise
        return Grant(lambda: self._release_streams(held), headers)

    def charge(self, row: UsageRecord) -> None:
        """Count a finished request's tokens (sync: called from the relay's `finish()`)."""
        tokens = (row.input_tokens or 0) + (row.output_tokens or 0)
        if row.user_id is None or tokens <= 0:
            return
        policy = self._policies.get(row.user_id, self.user_policy)
        principal = Principal(row.user_id, "", "", row.api_key_id)
        if self._scopes(principal, policy):
            self._later(self._add_tokens(principal, policy, tokens))

    # -- checks --------------------------------------------------------------------------

    async def _check_quotas(self, scope: str, user_id: int, policy: Policy) -> None:
        if not scope.startswith("u"):
            return
        now = datetime.now(UTC)
        for period, limit in (("day", policy.tokens_per_day), ("month", policy.tokens_per_month)):
            if limit and await self._used(user_id, period, now) >= limit:
                reset = math.ceil((period_end(period, now) - now).total_seconds())
                raise self._refuse(
                    f"tokens_per_{period}",
                    limit,
                    reset,
                    f"The token quota for this {period} is used up",
                )

    async def _count_request(self, user_id: int, policy: Policy) -> None:
        """Count this request against the user's daily and monthly request quotas (taken
        back when one is reached: a refused request is not counted)."""
        now = datetime.now(UTC)
        counted: list[tuple[str, int]] = []
        for period, limit in (
            ("day", policy.requests_per_day),
            ("month", policy.requests_per_month),
        ):
            if not limit:
                continue
            await self._used(user_id, period, now, requests=True)  # seeds on first use
            key, ttl = _quota_key(user_id, period, now, requests=True)
            counted.append((key, ttl))
            if await self._incr(key, ttl, 1) > limit:
                for done_key, done_ttl in counted:
                    await self._incr(done_key, done_ttl, -1)
                reset = math.ceil((period_end(period, now) - now).total_seconds())
                raise self._refuse(
                    f"requests_per_{period}",
                    limit,
                    reset,
                    f"The request quota for this {period} is used up",
                )

    async def _check_tokens(self, scope: str, limit: int) -> None:
        if not limit:
            return
        item = self._store.item(limit, "minute")
        if not await self._store.run(lambda _, window: window.test(item, "tpm", scope)):
            stats = await self._store.run(
                lambda _, window: window.get_window_stats(item, "tpm", scope)
            )
            reset = max(1, math.ceil(stats.reset_time - _now_ts()))
            raise self._refuse("tokens_per_minute", limit, reset, "Too many tokens this minute")

    async def _take_stream(self, scope: str, limit: int) -> None:
        if await self._incr(f"streams:{scope}", STREAM_COUNTER_TTL, 1) > limit:
            await self._incr(f"streams:{scope}", STREAM_COUNTER_TTL, -1)
            raise self._refuse("concurrent_streams", limit, 1, "Too many streams at once")

    async def _hit_requests(self, scope: str, limit: int) -> dict[str, str]:
        item = self._store.item(limit, "minute")
        if not await self._store.run(lambda _, window: window.hit(item, "rpm", scope)):
            stats = await self._store.run(
                lambda _, window: window.get_window_stats(item, "rpm", scope)
            )
            reset = max(1, math.ceil(stats.reset_time - _now_ts()))
            raise self._refuse("requests_per_minute", limit, reset, "Too many requests this minute")
        stats = await self._store.run(lambda _, window: window.get_window_stats(item, "rpm", scope))
        reset = max(0, math.ceil(stats.reset_time - _now_ts()))
        return _headers(limit, stats.remaining, reset)

    def _refuse(self, name: str, limit: int, reset: int, message: str) -> GatewayError:
        self._on_reject(name)
        code = (
            "quota_exceeded" if name.endswith(("_per_day", "_per_month")) else "rate_limit_exceeded"
        )
        return GatewayError(
            429,
            f"{message} (limit {limit}); try again in {reset} s",
            code=code,
            retry_after=reset,
            headers=_headers(limit, 0, reset),
        )

    # -- counters ------------------------------------------------------------------------

    async def _incr(self, key: str, ttl: int, amount: int) -> int:
        return int(await self._store.run(lambda storage, _: storage.incr(key, ttl, amount)))

    async def _window(self, action: str, limit: int, *key: str, cost: int = 1) -> Any:
        item = self._store.item(limit, "minute")

        async def work(_: Any, window: Any) -> Any:
            if action == "stats":
                return await window.get_window_stats(item, *key)
            return await getattr(window, action)(item, *key, cost=cost)

        return await self._store.run(work)

    async def _used(
        self, user_id: int, period: str, now: datetime, *, requests: bool = False
    ) -> int:
        key, ttl = _quota_key(user_id, period, now, requests=requests)
        if await self._incr(f"{key}:seeded", ttl, 1) == 1:
            seed = await self._used_since(user_id, period_start(period, now), requests=requests)
            if seed:
                await self._incr(key, ttl, seed)
        return int(await self._store.run(lambda storage, _: storage.get(key)))

    async def _used_since(self, user_id: int, start: datetime, *, requests: bool) -> int:
        total = func.coalesce(UsageRow.input_tokens, 0) + func.coalesce(UsageRow.output_tokens, 0)
        amount = func.count() if requests else func.coalesce(func.sum(total), 0)
        statement = select(amount).where(UsageRow.user_id == user_id, UsageRow.created >= start)
        if requests:  # the user's own requests; a conversation's title is not one
            statement = statement.where(UsageRow.client != Client.internal)
        async with self._sessions() as session:
            return int(await session.scalar(statement) or 0)

    async def _add_tokens(self, principal: Principal, user_policy: Policy, tokens: int) -> None:
        now = datetime.now(UTC)
        for scope, policy in self._scopes(principal, user_policy):
            if policy.tokens_per_minute:
                # Charge what fits: a window's counter cannot go past its limit.
                cost = min(tokens, policy.tokens_per_minute)
                await self._window("hit", policy.tokens_per_minute, "tpm", scope, cost=cost)
            if not scope.startswith("u"):
                continue
            for period, limit in (
                ("day", policy.tokens_per_day),
                ("month", policy.tokens_per_month),
            ):
                if limit:
                    await self._used(principal.user_id, period, now)  # seeds on first use
                    key, ttl = _quota_key(principal.user_id, period, now)
                    await self._incr(key, ttl, tokens)

    def _release_streams(self, scopes: list[str]) -> None:
        for scope in scopes:
            self._later(self._incr(f"streams:{scope}", STREAM_COUNTER_TTL, -1))

    def _later(self, job: Awaitable[Any]) -> None:
        if self._task is None or self._jobs.qsize() >= MAX_PENDING_JOBS:
            if asyncio.iscoroutine(job):
                job.close()
            log.warning("usage_limit_update_dropped")
            return
        self._jobs.put_nowait(job)

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job
            except Exception as exc:
                log.warning("usage_limit_update_failed", error=type(exc).__name__)
            finally:
                self._jobs.task_done()


def _quota_key(
    user_id: int, period: str, now: datetime, *, requests: bool = False
) -> tuple[str, int]:
    stamp = period_start(period, now).strftime("%Y%m%d")
    ttl = math.ceil((period_end(period, now) - now).total_seconds()) + 3600
    kind = "requests" if requests else "quota"
    return f"{kind}:{period}:{stamp}:u{user_id}", ttl


def _now_ts() -> float:
    return datetime.now(UTC).timestamp()


def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(reset),
    }
