"""Retention: `gpuchat db prune --older-than 90d` deletes old conversations, usage rows and
audit log entries.

A conversation goes when nothing happened in it since the cutoff (its `updated`), with all
its messages: pruning single messages would cut threads in half. Usage rows and audit
entries go by their `created`. Rows are deleted in batches, each its own short transaction,
so the gateway keeps serving (SQLite has one writer) and an interrupted prune leaves a
consistent database.

Usage rows of the current month are the memory of the monthly token quotas (they are
re-read after a restart), so a cutoff inside the current UTC month is refused for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import session_scope
from gpuchat.db.models import AuditEntry, Conversation, Message, UsageRow

BATCH = 2000
_AGE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


def utcnow() -> datetime:
    """The clock retention reads (one place, so tests pin it to a day of their choosing)."""
    return datetime.now(UTC)


def parse_cutoff(older_than: str, *, now: datetime | None = None) -> datetime:
    """`90d`, `12w` or an ISO date (`2025-01-01`, midnight UTC) -> the moment before which
    rows go. Raises ValueError with a message for the user."""
    now = now or utcnow()
    if match := _AGE.match(older_than):
        count, unit = int(match[1]), match[2].lower()
        if count < 1:
            raise ValueError("--older-than must be at least 1 day.")
        return now - timedelta(days=count * (7 if unit == "w" else 1))
    try:
        day = date.fromisoformat(older_than.strip())
    except ValueError:
        raise ValueError(
            "--older-than takes an age like 90d or 12w, or a date like 2025-01-01."
        ) from None
    cutoff = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if cutoff > now:
        raise ValueError("--older-than names a date in the future.")
    return cutoff


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PruneReport:
    cutoff: datetime
    conversations: int = 0
    messages: int = 0
    usage_rows: int = 0
    audit_rows: int = 0


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    cutoff: datetime,
    *,
    conversations: bool = True,
    usage: bool = True,
    audit: bool = True,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneReport:
    this_month = month_start(now or utcnow())
    if usage and cutoff > this_month:
        raise ValueError(
            "Usage rows of the current month feed the monthly quotas: choose a cutoff before "
            f"{this_month:%Y-%m-%d}, or leave usage out (--no-usage)."
        )
    old_conversations = select(Conversation.id).where(Conversation.updated < cutoff)
    old_usage = select(UsageRow.id).where(UsageRow.created < cutoff)
    old_audit = select(AuditEntry.id).where(AuditEntry.created < cutoff)
    async with session_scope(sessions) as session:
        counts = {
            "conversations": await _count(session, old_conversations) if conversations else 0,
            "messages": await _count(
                session,
                select(Message.id).where(Message.conversation_id.in_(old_conversations)),
            )
            if conversations
            else 0,
            "usage_rows": await _count(session, old_usage) if usage else 0,
            "audit_rows": await _count(session, old_audit) if audit else 0,
        }
    if not dry_run:
        # Messages go with their conversation (ON DELETE CASCADE).
        if conversations:
            await _delete_in_batches(sessions, Conversation, old_conversations)
        if usage:
            await _delete_in_batches(sessions, UsageRow, old_usage)
        if audit:
            await _delete_in_batches(sessions, AuditEntry, old_audit)
    return PruneReport(cutoff=cutoff, **counts)


async def _count(session: AsyncSession, ids: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


async def _delete_in_batches(
    sessions: async_sessionmaker[AsyncSession], model: Any, ids: Any
) -> None:
    while True:
        async with session_scope(sessions) as session:
            batch = list(await session.scalars(ids.order_by(model.id).limit(BATCH)))
            if not batch:
                return
            await session.execute(delete(model).where(model.id.in_(batch)))
