"""Usage as time series for the charts: requests, tokens in and out, errors and TTFT p95 per
UTC hour or day, one series per model.

Buckets are cut in Python from each row's UTC timestamp, not with a database date function,
so SQLite and PostgreSQL give the same buckets (and `date_trunc` has no SQLite twin). The
rows are read in the report's keyset batches; each (model, bucket) cell keeps its TTFTs in
a compact integer array (8 bytes a row) for the p95, which uses the report's
`percentile_cont` interpolation. A range is at most `MAX_BUCKETS` buckets, so a response
stays small whatever the data.

Buckets are UTC for everyone: the quotas reset at UTC midnight, the admin compares users in
different zones, and the web UI labels the axis "UTC".
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.errors import GatewayError
from gpuchat.db.models import UsageRow
from gpuchat.schemas.usage import Bucket, ModelSeries, UsageSeries
from gpuchat.services.usage.report import CLIENT_CLOSED, UsageFilter, iter_batches, percentile

MAX_BUCKETS = 1000  # 41 days of hours, 2.7 years of days
MAX_SERIES = 8  # more lines than this do not read on one chart
OTHER = "(other)"
STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
LABEL = {"hour": "%Y-%m-%dT%H:00Z", "day": "%Y-%m-%d"}


def floor_to(moment: datetime, bucket: Bucket) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


@dataclass(slots=True)
class _Cell:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    errors: int = 0
    ttft: array[int] = field(default_factory=lambda: array("q"))

    def add(
        self, input_tokens: int | None, output_tokens: int | None, status: int, ttft: int | None
    ) -> None:
        self.requests += 1
        self.input_tokens += input_tokens or 0
        self.output_tokens += output_tokens or 0
        if status >= 400 and status != CLIENT_CLOSED:
            self.errors += 1
        if ttft is not None:
            self.ttft.append(ttft)

    def merge(self, other: _Cell) -> None:
        self.requests += other.requests
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.errors += other.errors
        self.ttft.extend(other.ttft)


_COLUMNS = (
    UsageRow.created,
    UsageRow.model_alias,
    UsageRow.input_tokens,
    UsageRow.output_tokens,
    UsageRow.status_code,
    UsageRow.ttft_ms,
)


async def _bounds(
    sessions: async_sessionmaker[AsyncSession], where: UsageFilter
) -> tuple[datetime, datetime] | None:
    """The asked range, or the first and last matching row's time where it is open."""
    start, end = where.start, where.end
    if start is None or end is None:
        statement = select(func.min(UsageRow.created), func.max(UsageRow.created)).where(
            *where.conditions()
        )
        async with sessions() as session:
            first, last = (await session.execute(statement)).one()
        if first is None:
            return None
        start = start or _aware(first)
        end = end or _aware(last) + timedelta(microseconds=1)
    return (start, end) if start < end else None


def _aware(value: datetime | str) -> datetime:
    # min()/max() bypass the column type on SQLite, so the value may come back as text.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def bucket_starts(start: datetime, end: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket that overlaps [start, end); 422 past `MAX_BUCKETS`."""
    step, first = STEP[bucket], floor_to(start, bucket)
    count = -(-(end - first) // step)  # ceiling division of timedeltas
    if count > MAX_BUCKETS:
        raise GatewayError(
            422,
            f"The range holds {count} {bucket}s; at most {MAX_BUCKETS} fit one chart: "
            "choose a shorter range or daily buckets",
            code="invalid_value",
            param="bucket",
        )
    return [first + step * n for n in range(count)]


async def build_series(
    sessions: async_sessionmaker[AsyncSession], where: UsageFilter, bucket: Bucket
) -> UsageSeries:
    bounds = await _bounds(sessions, where)
    if bounds is None:
        return UsageSeries(bucket=bucket, buckets=[], series=[])
    starts = bucket_starts(*bounds, bucket)
    index = {moment: n for n, moment in enumerate(starts)}
    cells: dict[str, dict[int, _Cell]] = {}
    ranged = UsageFilter(bounds[0], bounds[1], *_rest(where))
    async for rows in iter_batches(sessions, _COLUMNS, ranged.conditions()):
        for row in rows:
            _, created, model, input_tokens, output_tokens, status, ttft = tuple(row)
            slot = index[floor_to(created, bucket)]
            cell = cells.setdefault(model, {}).setdefault(slot, _Cell())
            cell.add(input_tokens, output_tokens, status, ttft)
    return UsageSeries(
        bucket=bucket,
        buckets=[moment.strftime(LABEL[bucket]) for moment in starts],
        series=[_series(name, row, len(starts)) for name, row in _busiest(cells)],
    )


def _rest(where: UsageFilter) -> tuple[Any, ...]:
    return (where.user_ids, where.api_key_ids, where.model, where.status)


def _busiest(cells: dict[str, dict[int, _Cell]]) -> list[tuple[str, dict[int, _Cell]]]:
    """The `MAX_SERIES` busiest models by requests (then name), the rest summed as (other)."""
    ranked = sorted(
        cells.items(), key=lambda item: (-sum(c.requests for c in item[1].values()), item[0])
    )
    if len(ranked) <= MAX_SERIES:
        return ranked
    other: dict[int, _Cell] = {}
    for _, row in ranked[MAX_SERIES - 1 :]:
        for slot, cell in row.items():
            other.setdefault(slot, _Cell()).merge(cell)
    return [*ranked[: MAX_SERIES - 1], (OTHER, other)]


def _series(model: str, row: dict[int, _Cell], size: int) -> ModelSeries:
    empty = _Cell()
    cells: Sequence[_Cell] = [row.get(slot, empty) for slot in range(size)]
    return ModelSeries(
        model=model,
        requests=[c.requests for c in cells],
        input_tokens=[c.input_tokens for c in cells],
        output_tokens=[c.output_tokens for c in cells],
        errors=[c.errors for c in cells],
        ttft_p95_ms=[percentile(sorted(c.ttft), 0.95) for c in cells],
    )
