"""The caller's conversations: list, search, create, read, rename/pin, delete, export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from gpuchat.api.deps import CurrentPrincipal, OwnedConversation, SessionDep
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import Conversation
from gpuchat.db.repositories import conversations, feedback
from gpuchat.schemas.conversations import (
    ConversationCreate,
    ConversationDetail,
    ConversationPublic,
    ConversationsPublic,
    ConversationUpdate,
    MessagePublic,
)
from gpuchat.schemas.feedback import FeedbackPublic
from gpuchat.services.chat.export import conversation_download

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("")
async def list_conversations(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
) -> ConversationsPublic:
    cursor = conversations.Cursor.decode(before) if before else None
    if before and cursor is None:
        raise GatewayError(422, "before: not a cursor from a previous page", param="before")
    rows = await conversations.list_conversations(
        session, principal.user_id, limit=limit, before=cursor, query=q
    )
    next_before = conversations.Cursor.after(rows[-1]).encode() if len(rows) == limit else None
    return ConversationsPublic(
        data=[ConversationPublic.model_validate(c) for c in rows], next_before=next_before
    )


@router.post("", status_code=201)
async def create_conversation(
    body: ConversationCreate, principal: CurrentPrincipal, session: SessionDep
) -> ConversationPublic:
    conversation = Conversation(user_id=principal.user_id, **body.model_dump(exclude_none=True))
    session.add(conversation)
    await session.commit()
    return ConversationPublic.model_validate(conversation)


@router.get("/{conversation_id}")
async def read_conversation(
    conversation: OwnedConversation, session: SessionDep, all: bool = False
) -> ConversationDetail:
    messages = await conversations.all_messages(session, conversation.id)
    shown = messages if all else conversations.active_thread(messages)
    rated = await feedback.for_conversation(session, conversation.id)
    return ConversationDetail.model_validate(
        {
            **ConversationPublic.model_validate(conversation).model_dump(),
            "messages": [
                MessagePublic.model_validate(m).model_copy(
                    update={"feedback": FeedbackPublic.model_validate(rated[m.id])}
                    if m.id in rated
                    else {}
                )
                for m in shown
            ],
        }
    )


@router.patch("/{conversation_id}")
async def update_conversation(
    body: ConversationUpdate, conversation: OwnedConversation, session: SessionDep
) -> ConversationPublic:
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(conversation, field, value)
    conversations.touch(conversation)
    await session.commit()
    return ConversationPublic.model_validate(conversation)


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(conversation: OwnedConversation, session: SessionDep) -> None:
    await conversations.delete_conversation(session, conversation)
    await session.commit()


@router.get("/{conversation_id}/export", response_class=Response)
async def export_conversation(
    conversation: OwnedConversation,
    session: SessionDep,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    thread = await conversations.thread(session, conversation.id)
    return conversation_download(conversation, thread, format)
