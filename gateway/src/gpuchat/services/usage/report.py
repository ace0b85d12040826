"""Usage reports over the `requests` table: filters, grouping, totals and percentiles.

Rows are read in keyset batches (by id), each batch in its own short session, so neither a
report nor a CSV export holds a transaction or a whole table in memory. Percentiles are
computed here, in Python, with the same interpolation as PostgreSQL's `percentile_cont`, so
SQLite and PostgreSQL give identical numbers; each group keeps only two compact integer
arrays (8 bytes a row) for them.

Groups are read as they are now, not as they were when a request ran: `group=` keeps the
rows of the group's current members, and `group_by=group` counts a row once in each group
its user belongs to (a user in two groups counts in both; the totals count it once), and
the rows of users in no group under "(no group)".
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.errors import GatewayError
from gpuchat.db.models import ApiKey, Group, UsageRow, User
from gpuchat.db.repositories import groups as group_repository
from gpuchat.schemas.common import MAX_DB_ID, MAX_MOMENT, MIN_MOMENT
from gpuchat.schemas.usage import GroupBy, Percentiles, UsageGroup, UsageReport, UsageStats

BATCH_ROWS = 2000
CLIENT_CLOSED = 499


@dataclass(frozen=True, slots=True)
class UsageFilter:
    start: datetime | None = None
    end: datetime | None = None
    user_ids: tuple[int, ...] | None = None  # None: everyone; (): nobody matched
    api_key_ids: tuple[int, ...] | None = None
    model: str | None = None
    status: str | None = None  # "ok" | "error" | an HTTP status code

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.start is not None:
            where.append(UsageRow.created >= self.start)
        if self.end is not None:
            where.append(UsageRow.created < self.end)
        if self.user_ids is not None:
            where.append(UsageRow.user_id.in_(self.user_ids))
        if self.api_key_ids is not None:
            where.append(UsageRow.api_key_id.in_(self.api_key_ids))
        if self.model:
            where.append(or_(UsageRow.model_alias == self.model, UsageRow.profile == self.model))
        if self.status == "ok":
            where.append(UsageRow.status_code < 400)
        elif self.status == "error":
            where.append(and_(UsageRow.status_code >= 400, UsageRow.status_code != CLIENT_CLOSED))
        elif self.status:
            where.append(UsageRow.status_code == int(self.status))
        return where


def parse_moment(text: str | None, *, end: bool = False) -> datetime | None:
    """An ISO date or date-time (UTC unless it says otherwise). A bare date as the end of a
    range includes that whole day. ValueError when it is neither."""
    if not text:
        return None
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_range(
    start: str | None, end: str | None, names: tuple[str, str] = ("from", "to")
) -> tuple[datetime | None, datetime | None]:
    """ISO dates or date-times (UTC unless they say); a bare end date includes its day.
    `names`: the query parameters they came in, for the 422 that names the bad one."""
    moments = []
    for param, text, is_end in ((names[0], start, False), (names[1], end, True)):
        try:
            moment = parse_moment(text, end=is_end)
        except (ValueError, OverflowError) as exc:  # 9999-12-31 + 1 day overflows
            raise _bad_moment(param) from exc
        if moment is not None and not MIN_MOMENT <= moment <= MAX_MOMENT:
            raise _bad_moment(param)
        moments.append(moment)
    return moments[0], moments[1]


def _bad_moment(param: str) -> GatewayError:
    return GatewayError(
        422,
        f"{param}: an ISO date or date-time between {MIN_MOMENT:%Y} and {MAX_MOMENT:%Y}",
        code="invalid_value",
        param=param,
    )


async def resolve_user(session: AsyncSession, value: str | None) -> tuple[int, ...] | None:
    """A user filter given as an id or an email (exact, case-insensitive)."""
    if not value:
        return None
    if value.isdigit():
        return (int(value),) if int(value) <= MAX_DB_ID else ()
    found = await session.scalars(select(User.id).where(User.email == value.strip().lower()))
    return tuple(found.all())


async def resolve_key(session: AsyncSession, value: str | None) -> tuple[int, ...] | None:
    """An API key filter given as its id or its shown prefix (`gpc_…`)."""
    if not value:
        return None
    if value.isdigit():
        return (int(value),) if int(value) <= MAX_DB_ID else ()
    found = await session.scalars(select(ApiKey.id).where(ApiKey.prefix == value.strip()))
    return tuple(found.all())


async def resolve_group(session: AsyncSession, value: str | None) -> tuple[int, ...] | None:
    """A group filter given as its id or its exact name: the ids of its members now."""
    if not value:
        return None
    members = await group_members(session, value)
    return () if members is None else members


async def group_members(session: AsyncSession, value: str) -> tuple[int, ...] | None:
    """The members now of the group named by its id or its exact name; None: no such group."""
    statement = select(Group.id).where(Group.name == value.strip())
    if value.isdigit():
        if int(value) > MAX_DB_ID:
            return None
        statement = select(Group.id).where(or_(Group.id == int(value), Group.name == value))
    group_ids = (await session.scalars(statement)).all()
    return await group_repository.member_ids(session, group_ids) if group_ids else None


def narrow(first: tuple[int, ...] | None, second: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Two id filters at once: the ids in both (None: no filter)."""
    if first is None or second is None:
        return first if second is None else second
    return tuple(sorted(set(first) & set(second)))


async def iter_batches(
    sessions: async_sessionmaker[AsyncSession],
    columns: Sequence[Any],
    where: list[ColumnElement[bool]],
    *,
    join_users: bool = False,
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The matching rows, oldest first, `BATCH_ROWS` at a time; the first column is the id."""
    last_id = 0
    while True:
        statement = select(UsageRow.id, *columns).where(*where, UsageRow.id > last_id)
        if join_users:
            statement = statement.outerjoin(User, User.id == UsageRow.user_id)
        statement = statement.order_by(UsageRow.id).limit(BATCH_ROWS)
        async with sessions() as session:
            rows = (await session.execute(statement)).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]
        if len(rows) < BATCH_ROWS:
            return


def percentile(ordered: Sequence[int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's `percentile_cont`)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


@dataclass(slots=True)
class _Bucket:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: int = 0
    ttft: array[int] = field(default_factory=lambda: array("q"))
    latency: array[int] = field(default_factory=lambda: array("q"))

    def add(self, row: Sequence[Any]) -> None:
        _, _, _, _, input_tokens, output_tokens, status, ttft, latency = row
        self.requests += 1
        self.input_tokens += input_tokens or 0
        self.output_tokens += output_tokens or 0
        if status >= 400 and status != CLIENT_CLOSED:
            self.errors += 1
        if ttft is not None:
            self.ttft.append(ttft)
        if latency is not None:
            self.latency.append(latency)

    def stats(self) -> dict[str, Any]:
        ttft, latency = sorted(self.ttft), sorted(self.latency)
        return {
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "errors": self.errors,
            "ttft_ms": Percentiles(p50=percentile(ttft, 0.5), p95=percentile(ttft, 0.95)),
            "latency_ms": Percentiles(p50=percentile(latency, 0.5), p95=percentile(latency, 0.95)),
        }


_REPORT_COLUMNS = (
    UsageRow.created,
    UsageRow.user_id,
    UsageRow.model_alias,
    UsageRow.input_tokens,
    UsageRow.output_tokens,
    UsageRow.status_code,
    UsageRow.ttft_ms,
    UsageRow.latency_ms,
)


NO_GROUP = "(no group)"


def _group_keys(
    row: Sequence[Any], group_by: GroupBy, memberships: dict[int, list[str]]
) -> Sequence[object]:
    if group_by == "group":
        return memberships.get(row[2], ()) or (NO_GROUP,)
    return (_group_key(row, group_by),)


def _group_key(row: Sequence[Any], group_by: GroupBy) -> object:
    created: datetime = row[1]
    if group_by == "day":
        return created.strftime("%Y-%m-%d")
    if group_by == "hour":
        return created.strftime("%Y-%m-%dT%H:00Z")
    if group_by == "user":
        return row[2]
    return row[3]


async def build_report(
    sessions: async_sessionmaker[AsyncSession], where: UsageFilter, group_by: GroupBy
) -> UsageReport:
    total = _Bucket()
    groups: dict[object, _Bucket] = {}
    memberships: dict[int, list[str]] = {}
    if group_by == "group":
        async with sessions() as session:
            memberships = await group_repository.names_by_user(session)
    async for rows in iter_batches(sessions, _REPORT_COLUMNS, where.conditions()):
        for row in rows:
            total.add(row)
            for key in _group_keys(row, group_by, memberships):
                bucket = groups.get(key)
                if bucket is None:
                    bucket = groups[key] = _Bucket()
                bucket.add(row)
    names = await _user_names(sessions, groups) if group_by == "user" else {}
    result = [
        UsageGroup(key=names.get(key, str(key)), **bucket.stats()) for key, bucket in groups.items()
    ]
    if group_by in ("day", "hour"):
        result.sort(key=lambda g: g.key)
    else:
        result.sort(key=lambda g: (-g.requests, g.key))
    return UsageReport(totals=UsageStats(**total.stats()), groups=result)


async def _user_names(
    sessions: async_sessionmaker[AsyncSession], groups: dict[object, _Bucket]
) -> dict[object, str]:
    ids = [key for key in groups if isinstance(key, int)]
    names: dict[object, str] = {None: "(deleted user)"}
    if ids:
        async with sessions() as session:
            rows = await session.execute(select(User.id, User.email).where(User.id.in_(ids)))
        names.update({user_id: email for user_id, email in rows})
    return names
