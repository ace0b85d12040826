"""The caller's own usage in the current quota periods (UTC day and month) beside the limits
that apply to them: the defaults with the admin's per-user overrides (`quotas.Policy`).

The numbers are read from the `requests` table, the same source the quota counters are
seeded from, so they agree with what `admit()` enforces up to the few requests whose tokens
are still being counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.db.models import UsageRow
from gpuchat.schemas.usage import MyQuota, PeriodUsage, QuotaLimits
from gpuchat.services.limits.quotas import Policy, period_end, period_start


async def my_quota(
    sessions: async_sessionmaker[AsyncSession],
    defaults: Policy,
    overrides: Mapping[str, Any] | None,
    user_id: int,
    now: datetime,
) -> MyQuota:
    policy = defaults.with_overrides(overrides)
    day = await _period(sessions, user_id, "day", policy.tokens_per_day, now)
    month = await _period(sessions, user_id, "month", policy.tokens_per_month, now)
    limits = QuotaLimits(
        requests_per_minute=policy.requests_per_minute,
        tokens_per_minute=policy.tokens_per_minute,
        concurrent_streams=policy.concurrent_streams,
        tokens_per_day=policy.tokens_per_day,
        tokens_per_month=policy.tokens_per_month,
        requests_per_day=policy.requests_per_day,
        requests_per_month=policy.requests_per_month,
    )
    return MyQuota(day=day, month=month, limits=limits)


async def _period(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    period: Literal["day", "month"],
    quota: int,
    now: datetime,
) -> PeriodUsage:
    start, end = period_start(period, now), period_end(period, now)
    statement = select(
        func.count(UsageRow.id),
        func.coalesce(func.sum(UsageRow.input_tokens), 0),
        func.coalesce(func.sum(UsageRow.output_tokens), 0),
    ).where(UsageRow.user_id == user_id, UsageRow.created >= start, UsageRow.created < end)
    async with sessions() as session:
        row = (await session.execute(statement)).one()
    requests, input_tokens, output_tokens = (int(value or 0) for value in row)
    tokens = input_tokens + output_tokens
    return PeriodUsage(
        period=period,
        start=start,
        resets_at=end,
        requests=requests,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        tokens=tokens,
        quota=quota,
        remaining=max(0, quota - tokens) if quota else None,
    )
