"""The usage rows as CSV: RFC 4180 (the csv module), safe to open in a spreadsheet, streamed.

A cell that begins with `= + - @ TAB CR` would be read as a formula by Excel, LibreOffice
or Google Sheets; it gets a leading `'` (OWASP's advice). Rows are read in keyset batches
(`usage_report.iter_batches`), so memory stays flat however many rows match. The last
column, `groups`, names the user's groups as they are now (`; ` between names).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.db.models import UsageRow, User
from gpuchat.db.repositories import groups
from gpuchat.services.usage.report import UsageFilter, iter_batches

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    ("created", UsageRow.created),
    ("request_id", UsageRow.request_id),
    ("client_request_id", UsageRow.client_request_id),
    ("user_id", UsageRow.user_id),
    ("user_email", User.email),
    ("api_key_id", UsageRow.api_key_id),
    ("client", UsageRow.client),
    ("model", UsageRow.model_alias),
    ("profile", UsageRow.profile),
    ("engine", UsageRow.engine),
    ("ctx_len", UsageRow.ctx_len),
    ("input_tokens", UsageRow.input_tokens),
    ("output_tokens", UsageRow.output_tokens),
    ("tokens_estimated", UsageRow.tokens_estimated),
    ("ttft_ms", UsageRow.ttft_ms),
    ("latency_ms", UsageRow.latency_ms),
    ("queue_ms", UsageRow.queue_ms),
    ("status_code", UsageRow.status_code),
    ("error_type", UsageRow.error_type),
)


def safe_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def csv_filename(kind: str, start: datetime | None, end: datetime | None) -> str:
    """`gpuchat-<kind>[-<start>][-<end>].csv`: ASCII letters, digits, dot, dash and
    underscore only."""
    parts = [f"gpuchat-{kind}"]
    for moment in (start, end):
        if moment is not None:
            parts.append(moment.strftime("%Y%m%dT%H%M%S"))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)) + ".csv"


def export_filename(where: UsageFilter) -> str:
    return csv_filename("usage", where.start, where.end)


async def csv_chunks(
    sessions: async_sessionmaker[AsyncSession], where: UsageFilter
) -> AsyncIterator[str]:
    """The header, then one chunk of CSV per batch of rows."""
    yield csv_lines([[name for name, _ in COLUMNS] + ["groups"]])
    async with sessions() as session:
        memberships = await groups.names_by_user(session)
    columns = [column for _, column in COLUMNS]
    user_at = 1 + [name for name, _ in COLUMNS].index("user_id")
    async for rows in iter_batches(sessions, columns, where.conditions(), join_users=True):
        yield csv_lines([*row[1:], "; ".join(memberships.get(row[user_at], ()))] for row in rows)
