"""Conversations and their messages.

Messages form a tree through `parent_id`: regenerating adds a sibling answer, editing a
user message adds a sibling question. The active thread is the path from the root to the
newest message, so alternatives stay stored and retrievable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import Conversation, Message, utcnow
from gpuchat.db.repositories.users import escape_like
from gpuchat.schemas.common import MAX_DB_ID, MAX_MOMENT, MIN_MOMENT


async def get_owned(
    session: AsyncSession, user_id: int, conversation_id: int
) -> Conversation | None:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        return None
    return conversation


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended, in the list's order (pinned first, then most recent)."""

    pinned: bool
    updated: datetime
    id: int

    def encode(self) -> str:
        return f"{int(self.pinned)}~{self.updated.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """None for anything `encode` would not have written (then a 422, never a 500)."""
        try:
            pinned, updated, ident = text.split("~")
            moment = datetime.fromisoformat(updated)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            number = int(ident)
        except ValueError:
            return None
        if pinned not in ("0", "1") or not MIN_MOMENT <= moment <= MAX_MOMENT:
            return None
        if not 0 <= number <= MAX_DB_ID:
            return None
        return cls(pinned == "1", moment, number)

    @classmethod
    def after(cls, conversation: Conversation) -> Cursor:
        return cls(conversation.pinned, conversation.updated, conversation.id)


async def list_conversations(
    session: AsyncSession, user_id: int, *, limit: int, before: Cursor | None, query: str | None
) -> Sequence[Conversation]:
    """Pinned first, then most recently updated; `before` continues after a page."""
    statement = select(Conversation).where(Conversation.user_id == user_id)
    if before is not None:
        older = or_(
            Conversation.updated < before.updated,
            and_(Conversation.updated == before.updated, Conversation.id < before.id),
        )
        statement = statement.where(
            or_(
                and_(Conversation.pinned == before.pinned, older),
                Conversation.pinned.is_(False) if before.pinned else false(),
            )
        )
    if query:
        pattern = f"%{escape_like(query)}%"
        in_messages = select(Message.conversation_id).where(
            Message.content.ilike(pattern, escape="\\")
        )
        statement = statement.where(
            or_(Conversation.title.ilike(pattern, escape="\\"), Conversation.id.in_(in_messages))
        )
    order = (Conversation.pinned.desc(), Conversation.updated.desc(), Conversation.id.desc())
    return (await session.scalars(statement.order_by(*order).limit(limit))).all()


async def all_messages(session: AsyncSession, conversation_id: int) -> Sequence[Message]:
    statement = (
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )
    return (await session.scalars(statement)).all()


def active_thread(messages: Sequence[Message]) -> list[Message]:
    """The path from the root to the newest message, oldest first."""
    if not messages:
        return []
    by_id = {m.id: m for m in messages}
    thread: list[Message] = []
    node: Message | None = max(messages, key=lambda m: m.id)
    while node is not None:
        thread.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    thread.reverse()
    return thread


async def thread(session: AsyncSession, conversation_id: int) -> list[Message]:
    return active_thread(await all_messages(session, conversation_id))


async def delete_conversation(session: AsyncSession, conversation: Conversation) -> None:
    await session.execute(delete(Message).where(Message.conversation_id == conversation.id))
    await session.delete(conversation)


def touch(conversation: Conversation) -> None:
    conversation.updated = utcnow()
