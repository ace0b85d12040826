"""The admin's view of feedback on answers: filtered pages, and every row as a CSV.

Each row carries the turn it is about (the question and the answer), which is what makes
the feedback usable for improving the model from the logs. A page shows the first
`PREVIEW_CHARS` of each text, cut in the database; the CSV has them whole, read in keyset
batches of `BATCH_ROWS` in short sessions, so memory stays flat however much matches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from gpuchat.db.models import Feedback, Message, User
from gpuchat.schemas.feedback import PREVIEW_CHARS, FeedbackEntry, FeedbackPage
from gpuchat.services.usage.csv_export import csv_filename, csv_lines

BATCH_ROWS = 200  # answers can be long: a small batch keeps an export's memory small

_answer = aliased(Message)
_question = aliased(Message)


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    rating: str | None = None
    model: str | None = None  # the model alias asked
    profile: str | None = None  # the profile that answered
    start: datetime | None = None
    end: datetime | None = None
    has_comment: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.rating:
            where.append(Feedback.rating == self.rating)
        if self.model:
            where.append(Feedback.model == self.model)
        if self.profile:
            where.append(Feedback.profile == self.profile)
        if self.start is not None:
            where.append(Feedback.created >= self.start)
        if self.end is not None:
            where.append(Feedback.created < self.end)
        if self.has_comment is True:
            where.append(Feedback.comment != "")
        elif self.has_comment is False:
            where.append(Feedback.comment == "")
        return where


def _rows(question: Any, answer: Any) -> Select[Any]:
    return (
        select(Feedback, User.email, question, answer)
        .join(User, User.id == Feedback.user_id)
        .join(_answer, _answer.id == Feedback.message_id)
        .outerjoin(_question, _question.id == _answer.parent_id)
    )


async def feedback_page(
    session: AsyncSession, where: FeedbackFilter, *, limit: int, offset: int
) -> FeedbackPage:
    """Newest first, with the number that match and how many of them are thumbs up."""
    conditions = where.conditions()
    total, up = (
        await session.execute(
            select(
                func.count(Feedback.id),
                func.coalesce(func.sum(case((Feedback.rating == "up", 1), else_=0)), 0),
            ).where(*conditions)
        )
    ).one()
    statement = _rows(
        func.substr(_question.content, 1, PREVIEW_CHARS),
        func.substr(_answer.content, 1, PREVIEW_CHARS),
    ).where(*conditions)
    rows = (
        await session.execute(statement.order_by(Feedback.id.desc()).limit(limit).offset(offset))
    ).all()
    return FeedbackPage(data=[_entry(*row) for row in rows], total=total, up=up)


def _entry(row: Feedback, email: str, question: str | None, answer: str) -> FeedbackEntry:
    return FeedbackEntry(
        id=row.id,
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        user_id=row.user_id,
        user_email=email,
        rating=row.rating,  # stored only from a `Rating`
        comment=row.comment,
        model=row.model,
        profile=row.profile,
        question=question,
        answer=answer,
        created=row.created,
        updated=row.updated,
    )


CSV_COLUMNS = (
    "created",
    "updated",
    "user_email",
    "rating",
    "comment",
    "model",
    "profile",
    "question",
    "answer",
    "conversation_id",
    "message_id",
)


def _csv_row(row: Feedback, email: str, question: str | None, answer: str) -> Sequence[object]:
    return (
        row.created,
        row.updated,
        email,
        row.rating,
        row.comment,
        row.model,
        row.profile,
        question,
        answer,
        row.conversation_id,
        row.message_id,
    )


async def csv_chunks(
    sessions: async_sessionmaker[AsyncSession], where: FeedbackFilter
) -> AsyncIterator[str]:
    """The header, then one chunk per batch, oldest first (formula-safe cells)."""
    yield csv_lines([CSV_COLUMNS])
    conditions = where.conditions()
    last_id = 0
    while True:
        statement = (
            _rows(_question.content, _answer.content)
            .where(*conditions, Feedback.id > last_id)
            .order_by(Feedback.id)
            .limit(BATCH_ROWS)
        )
        async with sessions() as session:
            rows = (await session.execute(statement)).all()
        if not rows:
            return
        yield csv_lines(_csv_row(*row) for row in rows)
        last_id = rows[-1][0].id
        if len(rows) < BATCH_ROWS:
            return


def export_filename(where: FeedbackFilter) -> str:
    return csv_filename("feedback", where.start, where.end)
