"""Reading the audit log: filters, a newest-first page, and a streamed CSV export.

The CSV is written like the usage export (`services/usage/csv_export.py`): RFC 4180, cells
that a spreadsheet would run as a formula prefixed with `'`, read in keyset batches so
memory stays flat however many entries match.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.db.models import AuditEntry
from gpuchat.schemas.common import MAX_DB_ID
from gpuchat.services.audit.record import CLI_ACTOR
from gpuchat.services.usage.csv_export import csv_filename, csv_lines
from gpuchat.services.usage.report import parse_range

BATCH_ROWS = 2000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None  # a user id, an email (any case) or "cli"
    action: str | None = None  # a code or its start, ending at a dot or the end
    target: str | None = None  # "type", "type:id-or-name", or an id or name alone
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.actor:
            where.append(_actor(self.actor.strip()))
        if self.action:
            prefix = self.action.rstrip(".")
            where.append(
                or_(
                    AuditEntry.action == prefix,
                    AuditEntry.action.startswith(prefix + ".", autoescape=True),
                )
            )
        if self.target:
            where.append(_target(self.target.strip()))
        if self.since is not None:
            where.append(AuditEntry.created >= self.since)
        if self.until is not None:
            where.append(AuditEntry.created < self.until)
        return where


def _actor(value: str) -> ColumnElement[bool]:
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to int()
        return AuditEntry.actor_id == (int(value) if int(value) <= MAX_DB_ID else -1)
    if value.lower() == CLI_ACTOR:
        return AuditEntry.actor_email == CLI_ACTOR
    return AuditEntry.actor_email == value.lower()


def _target(value: str) -> ColumnElement[bool]:
    kind, colon, ident = value.partition(":")
    if colon:
        named = or_(AuditEntry.target_id == ident, AuditEntry.target_name == ident)
        return (
            AuditEntry.target_type == kind
            if not ident
            else named & (AuditEntry.target_type == kind)
        )
    return or_(
        AuditEntry.target_type == value,
        AuditEntry.target_id == value,
        AuditEntry.target_name == value,
    )


def parse_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """ISO dates or date-times (UTC unless they say); a bare `until` date includes its day."""
    return parse_range(since, until, names=("since", "until"))


async def list_entries(
    session: AsyncSession, where: AuditFilter, *, limit: int, offset: int
) -> tuple[Sequence[AuditEntry], int]:
    """Newest first, and how many match in all."""
    conditions = where.conditions()
    total = await session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0
    statement = (
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(statement)).all(), total


COLUMNS = (
    "created",
    "actor_id",
    "actor_email",
    "action",
    "target_type",
    "target_id",
    "target_name",
    "before",
    "after",
    "request_id",
    "client_ip",
)


def _cells(entry: AuditEntry) -> list[Any]:
    cells: list[Any] = []
    for name in COLUMNS:
        value = getattr(entry, name)
        if name in ("before", "after") and value is not None:
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        cells.append(value)
    return cells


def export_filename(where: AuditFilter) -> str:
    return csv_filename("audit", where.since, where.until)


async def csv_chunks(
    sessions: async_sessionmaker[AsyncSession], where: AuditFilter
) -> AsyncIterator[str]:
    """The header, then one chunk per batch of entries, oldest first; each batch is read in
    its own short session, so nothing is held while the client reads slowly."""
    yield csv_lines([list(COLUMNS)])
    conditions = where.conditions()
    last_id = 0
    while True:
        statement = (
            select(AuditEntry)
            .where(*conditions, AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(BATCH_ROWS)
        )
        async with sessions() as session:
            rows = (await session.scalars(statement)).all()
        if not rows:
            return
        yield csv_lines(_cells(entry) for entry in rows)
        last_id = rows[-1].id
        if len(rows) < BATCH_ROWS:
            return
