"""A profile's policy applied to a chat body: sampling defaults and the admin system prompt.

Defaults fill only what the client left unset (absent or null): a value the client sends is
never replaced. The admin's system prompt goes first. Where the conversation already opens
with a system (or developer) message, the admin's text is put before the client's in that
same message rather than in a second one: many chat templates accept one system message,
and only at the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# One setting under two engines' names: a client's value under either counts as set.
REPETITION_FIELDS = frozenset({"repeat_penalty", "repetition_penalty"})
SYSTEM_ROLES = frozenset({"system", "developer"})


def fill_unset(body: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    """Add each default whose field the body leaves unset. `max_tokens` counts as set when
    the client sent `max_completion_tokens`."""
    for field, value in defaults.items():
        if field in REPETITION_FIELDS:
            taken = any(body.get(name) is not None for name in REPETITION_FIELDS)
        elif field == "max_tokens":
            taken = (
                body.get("max_tokens") is not None or body.get("max_completion_tokens") is not None
            )
        else:
            taken = body.get(field) is not None
        if not taken:
            body[field] = value


def join_system(admin: str, own: str) -> str:
    """The admin's system prompt, then the user's own."""
    return "\n\n".join(part for part in (admin, own) if part)


def with_system_prompt(messages: list[dict[str, Any]], admin: str) -> list[dict[str, Any]]:
    """The messages with the admin's system prompt first (the input is not changed)."""
    if not admin:
        return messages
    if not messages or messages[0].get("role") not in SYSTEM_ROLES:
        return [{"role": "system", "content": admin}, *messages]
    first = dict(messages[0])
    content = first.get("content")
    if isinstance(content, list):
        first["content"] = [{"type": "text", "text": admin + "\n\n"}, *content]
    else:
        first["content"] = join_system(admin, content or "")
    return [first, *messages[1:]]
