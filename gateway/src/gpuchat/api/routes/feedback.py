"""The caller's thumbs up or down, and comment, on an answer in one of their conversations.

Feedback is a person's judgement in the web chat: a session may give it, an API key may not
(a key is for programs calling `/v1`, and a script must not rate answers in a user's name).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from gpuchat.api.deps import CurrentPrincipal, OwnedConversation, SessionDep
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import Message
from gpuchat.db.repositories import feedback
from gpuchat.schemas.common import PathId
from gpuchat.schemas.feedback import FeedbackPublic, FeedbackWrite

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

PATH = "/{conversation_id}/messages/{message_id}/feedback"


async def get_session_principal(principal: CurrentPrincipal) -> Principal:
    if principal.api_key_id is not None:
        raise GatewayError(403, "An API key cannot give feedback", code="session_required")
    return principal


SessionPrincipal = Annotated[Principal, Depends(get_session_principal)]


async def _answer(session: SessionDep, conversation: OwnedConversation, message_id: int) -> Message:
    message = await feedback.message_in(session, conversation.id, message_id)
    if message is None:
        raise GatewayError(404, "Message not found", code="message_not_found")
    if message.role != "assistant":
        raise GatewayError(
            422, "Only an answer can get feedback", code="not_an_answer", param="message_id"
        )
    return message


@router.put(PATH, responses={201: {"model": FeedbackPublic}})
async def rate_answer(
    body: FeedbackWrite,
    principal: SessionPrincipal,
    conversation: OwnedConversation,
    message_id: PathId,
    session: SessionDep,
    response: Response,
) -> FeedbackPublic:
    """Set the caller's feedback on an answer: 201 the first time, 200 when it changes it."""
    answer = await _answer(session, conversation, message_id)
    row, created = await feedback.rate(
        session, principal.user_id, answer, body.rating, body.comment
    )
    await session.commit()
    if created:
        response.status_code = 201
    return FeedbackPublic.model_validate(row)


@router.delete(PATH, status_code=204)
async def remove_feedback(
    principal: SessionPrincipal,
    conversation: OwnedConversation,
    message_id: PathId,
    session: SessionDep,
) -> None:
    """Remove the caller's feedback on an answer (also when there was none)."""
    answer = await _answer(session, conversation, message_id)
    await feedback.remove(session, principal.user_id, answer.id)
    await session.commit()
