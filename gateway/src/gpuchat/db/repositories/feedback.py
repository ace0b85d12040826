"""Feedback on answers: one row per user and answer, created, changed or removed by its owner."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import Feedback, Message, utcnow


async def message_in(
    session: AsyncSession, conversation_id: int, message_id: int
) -> Message | None:
    """The message, if it belongs to this conversation (another one's answers like a missing)."""
    message = await session.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id:
        return None
    return message


async def for_conversation(session: AsyncSession, conversation_id: int) -> dict[int, Feedback]:
    """The conversation's feedback, by message id."""
    statement = select(Feedback).where(Feedback.conversation_id == conversation_id)
    rows = await session.scalars(statement)
    return {row.message_id: row for row in rows}


async def _mine(session: AsyncSession, user_id: int, message_id: int) -> Feedback | None:
    statement = select(Feedback).where(
        Feedback.message_id == message_id, Feedback.user_id == user_id
    )
    return (await session.scalars(statement)).one_or_none()


async def rate(
    session: AsyncSession, user_id: int, answer: Message, rating: str, comment: str
) -> tuple[Feedback, bool]:
    """Set the user's feedback on the answer: (the row, whether it is new). Two requests at
    once for one answer end as one row (the unique key; the loser updates it)."""
    row = await _mine(session, user_id, answer.id)
    created = row is None
    if row is None:
        row = Feedback(
            message_id=answer.id,
            conversation_id=answer.conversation_id,
            user_id=user_id,
            rating=rating,
            comment=comment,
            model=answer.model,
            profile=answer.profile,
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:  # the savepoint's rollback has already let go of our row
            row = await _mine(session, user_id, answer.id)
            created = False
            if row is None:  # the answer itself went away meanwhile
                raise
    if not created:
        row.rating, row.comment, row.updated = rating, comment, utcnow()
    return row, created


async def remove(session: AsyncSession, user_id: int, message_id: int) -> None:
    await session.execute(
        delete(Feedback).where(Feedback.message_id == message_id, Feedback.user_id == user_id)
    )
