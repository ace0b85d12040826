"""Conversation downloads as JSON or Markdown, with a safe file name."""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson
from starlette.responses import Response

from gpuchat.db.models import Conversation, Message
from gpuchat.schemas.conversations import ConversationPublic, MessagePublic


def safe_filename(title: str, conversation_id: int, extension: str) -> str:
    """ASCII letters, digits, dot, dash and underscore only: nothing a header or a shell
    could misread. Titles in other scripts fall back to the conversation id."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:60]
    return f"{stem or 'conversation'}-{conversation_id}.{extension}"


def conversation_download(
    conversation: Conversation, messages: Sequence[Message], format: str
) -> Response:
    if format == "markdown":
        body = to_markdown(conversation, messages).encode()
        media, extension = "text/markdown; charset=utf-8", "md"
    else:
        payload = {
            **ConversationPublic.model_validate(conversation).model_dump(mode="json"),
            "messages": [MessagePublic.model_validate(m).model_dump(mode="json") for m in messages],
        }
        body, media, extension = (
            orjson.dumps(payload, option=orjson.OPT_INDENT_2),
            "application/json",
            "json",
        )
    name = safe_filename(conversation.title, conversation.id, extension)
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def to_markdown(conversation: Conversation, messages: Sequence[Message]) -> str:
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    if conversation.system_prompt:
        lines += ["> **System:** " + conversation.system_prompt.replace("\n", "\n> "), ""]
    for message in messages:
        label = {"user": "User", "assistant": "Assistant"}.get(message.role, message.role)
        suffix = "" if message.status == "complete" else f" _({message.status})_"
        lines += [f"## {label}{suffix}", "", message.content, ""]
    return "\n".join(lines)
