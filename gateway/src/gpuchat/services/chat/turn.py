"""Preparing one chat turn: the conversation, the stored user message, and the prompt.

Runs in one short transaction before the stream starts, so the user's message is stored
before anything is sent upstream, and no database session is held while streaming.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.core.errors import GatewayError
from gpuchat.db.models import Conversation, Message, User
from gpuchat.db.repositories import conversations
from gpuchat.engines.profiles import Profile
from gpuchat.openai.policy import join_system
from gpuchat.schemas.conversations import ChatRequest
from gpuchat.services.chat.prompt import Prompt, answer_room, build_prompt

TITLE_FALLBACK_CHARS = 60


@dataclass(frozen=True, slots=True)
class Turn:
    conversation_id: int
    user_message_id: int
    alias: str
    prompt: Prompt
    parameters: dict[str, Any]
    needs_title: bool
    first_question: str


def _choose(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


async def _owned(session: AsyncSession, user: User, conversation_id: int) -> Conversation:
    owned = await conversations.get_owned(session, user.id, conversation_id)
    if owned is None:
        raise GatewayError(
            404, "Conversation not found", code="conversation_not_found", param="conversation_id"
        )
    return owned


async def chosen_model(
    session: AsyncSession,
    user: User,
    body: ChatRequest,
    usable: Callable[[str], str] | None = None,
) -> str:
    """The model alias the turn will ask for: the request's, else the conversation's, else
    the user's default (for a new conversation), passed through `usable` (which may put a
    model the user may use in its place). 404 for a conversation not theirs."""
    if body.model is not None:
        return body.model
    if body.conversation_id is None:
        default = str(_choose((user.settings or {}).get("model"), "default"))
        return usable(default) if usable else default
    return (await _owned(session, user, body.conversation_id)).model


async def _conversation(
    session: AsyncSession, user: User, body: ChatRequest, defaults: dict[str, Any]
) -> Conversation:
    if body.conversation_id is None:
        conversation = Conversation(
            user_id=user.id,
            model=await chosen_model(session, user, body),
            system_prompt=_choose(body.system_prompt, defaults.get("system_prompt"), ""),
            title="",
        )
        session.add(conversation)
        await session.flush()
        return conversation
    owned = await _owned(session, user, body.conversation_id)
    if body.model is not None:
        owned.model = body.model
    if body.system_prompt is not None:
        owned.system_prompt = body.system_prompt
    return owned


def _content(body: ChatRequest) -> str:
    if body.content is None or not body.content.strip():
        raise GatewayError(
            422, "content: a message is required", code="invalid_value", param="content"
        )
    if "\x00" in body.content:
        raise GatewayError(
            422, "content: must not contain NUL characters", code="invalid_value", param="content"
        )
    return body.content


async def _thread_with_question(
    session: AsyncSession, conversation: Conversation, body: ChatRequest
) -> tuple[list[Message], Message]:
    """The active thread ending with the question to answer (new, edited, or regenerated)."""
    messages = list(await conversations.all_messages(session, conversation.id))
    thread = conversations.active_thread(messages)
    if body.regenerate:
        questions = [m for m in thread if m.role == "user"]
        if not questions:
            raise GatewayError(
                422,
                "There is no message to regenerate an answer for",
                code="nothing_to_regenerate",
                param="regenerate",
            )
        cut = thread.index(questions[-1]) + 1
        return thread[:cut], questions[-1]
    content = _content(body)
    parent = thread[-1].id if thread else None
    if body.edit_message_id is not None:
        edited = next(
            (m for m in messages if m.id == body.edit_message_id and m.role == "user"), None
        )
        if edited is None:
            raise GatewayError(
                404, "Message not found", code="message_not_found", param="edit_message_id"
            )
        parent = edited.parent_id
    question = Message(
        conversation_id=conversation.id,
        parent_id=parent,
        role="user",
        content=content,
        status="complete",
    )
    session.add(question)
    await session.flush()
    return conversations.active_thread([*messages, question]), question


async def prepare_turn(
    session: AsyncSession, user: User, body: ChatRequest, profile_for: Any
) -> Turn:
    """`profile_for(alias) -> Profile` raises the 404 for unknown models."""
    defaults = dict(user.settings or {})
    conversation = await _conversation(session, user, body, defaults)
    profile: Profile = profile_for(conversation.model)
    thread, question = await _thread_with_question(session, conversation, body)
    # Each sampling field: the request's value, else the user's setting, else the profile's
    # default, else the engine's own (penalties are the profile's alone).
    chosen = {
        "temperature": _choose(body.temperature, defaults.get("temperature")),
        "top_p": _choose(body.top_p, defaults.get("top_p")),
        "max_tokens": _choose(body.max_tokens, defaults.get("max_tokens")),
    }
    parameters = profile.defaults.engine_fields(profile.engine)
    parameters.update({k: v for k, v in chosen.items() if v is not None})
    limits = profile.limits
    wanted = parameters.get("max_tokens")
    reserve = answer_room(profile.context, limits.max_tokens, int(wanted) if wanted else None)
    system = join_system(profile.system_prompt, conversation.system_prompt)
    prompt = build_prompt(system, thread, context=profile.context, reserve=reserve)
    conversations.touch(conversation)
    first = next((m for m in thread if m.role == "user"), question)
    return Turn(
        conversation_id=conversation.id,
        user_message_id=question.id,
        alias=conversation.model,
        prompt=prompt,
        parameters=parameters,
        needs_title=not conversation.title,
        first_question=first.content,
    )


def fallback_title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_FALLBACK_CHARS else line[: TITLE_FALLBACK_CHARS - 1] + "…"
