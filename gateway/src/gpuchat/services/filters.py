"""Input filters: the admin's forbidden-word list, and PII masking for sampled log lines.

Forbidden words are matched case-insensitively as plain substrings (no patterns: an admin
types words, not regular expressions) in every text a request sends: every role (system,
developer, assistant and tool messages carry words as well as the user's), every content
part, names and tool-call arguments. The list lives in the
database; each gateway keeps it in memory and re-reads it every `RELOAD_SECONDS`, so an
edit made on one replica reaches the others within that time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import structlog
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import read_session, session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import ForbiddenWord
from gpuchat.services.audit.record import Action, Actor, Target, record

log = structlog.get_logger(__name__)

RELOAD_SECONDS: Final = 10.0

# Order matters: a resident registration number or a card number also looks like a phone.
_PII: Final = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[email]"),
    (
        re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?-?\s?[1-8]\d{6}(?!\d)"),
        "[rrn]",
    ),
    (re.compile(r"(?<!\d)\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}(?!\d)"), "[card]"),
    (re.compile(r"(?<![\d+])(?:\+82[ -]?|0)1[016789][ -]?\d{3,4}[ -]?\d{4}(?!\d)"), "[phone]"),
    (re.compile(r"(?<![\d+])0\d{1,2}[ )-]\d{3,4}[ -]\d{4}(?!\d)"), "[phone]"),
    (re.compile(r"\+\d{1,3}[ -]?\(?\d{1,4}\)?(?:[ -]?\d{2,4}){2,3}(?!\d)"), "[phone]"),
)


def mask_pii(text: str) -> str:
    """Emails, Korean resident registration numbers, card numbers and phone numbers
    (Korean mobile 010-xxxx-xxxx, landlines, international) replaced by a placeholder."""
    for pattern, placeholder in _PII:
        text = pattern.sub(placeholder, text)
    return text


def user_texts(messages: Iterable[object]) -> list[str]:
    """The text a user wrote in OpenAI-style messages (string content or text parts)."""
    texts: list[str] = []
    for message in messages:
        role = getattr(message, "role", None) or (
            message.get("role") if isinstance(message, dict) else None
        )
        if role != "user":
            continue
        content = getattr(message, "content", None)
        if content is None and isinstance(message, dict):
            content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    return texts


def message_texts(messages: Iterable[object]) -> list[str]:
    """Every string in OpenAI-style messages, whatever the role, part type or field (the
    role itself aside): what the filter must see."""
    texts: list[str] = []
    for message in messages:
        if isinstance(message, BaseModel):
            message = message.model_dump(exclude={"role"})
        elif isinstance(message, dict):
            message = {k: v for k, v in message.items() if k != "role"}
        _strings(message, texts)
    return texts


def _strings(value: object, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, into)


class ForbiddenWords:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        on_match: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._on_match = on_match
        self._words: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        self._loaded_at = float("-inf")

    @property
    def words(self) -> tuple[str, ...]:
        return self._words

    async def check(self, texts: Sequence[str]) -> None:
        """400 `content_filtered` when any text contains a forbidden word."""
        if time.monotonic() - self._loaded_at > RELOAD_SECONDS:
            try:
                await self.load()
            except SQLAlchemyError as exc:  # keep the list we have; try again later
                self._loaded_at = time.monotonic()
                log.warning("forbidden_words_reload_failed", error=type(exc).__name__)
        pattern = self._pattern
        if pattern is None:
            return
        if any(pattern.search(text) for text in texts):
            self._on_match()
            raise GatewayError(
                400,
                "The message contains a word this service does not accept",
                code="content_filtered",
                param="messages",
            )

    async def load(self) -> None:
        # A read session: the web chat checks inside its own write transaction.
        async with read_session(self._sessions) as session:
            rows = await session.scalars(select(ForbiddenWord.word).order_by(ForbiddenWord.word))
            self._use(tuple(rows.all()))

    async def replace(self, words: Iterable[str], actor: Actor | None = None) -> tuple[str, ...]:
        """The new list; with an `actor`, the change goes to the audit log in the same
        transaction (the whole list before and after; nothing when it is the same)."""
        unique = tuple(sorted({w.strip() for w in words if w.strip()}, key=str.casefold))
        async with session_scope(self._sessions) as session:
            old = sorted(await session.scalars(select(ForbiddenWord.word)), key=str.casefold)
            await session.execute(delete(ForbiddenWord))
            session.add_all(ForbiddenWord(word=word) for word in unique)
            if actor is not None and set(old) != set(unique):
                target = Target("filters", name="forbidden_words")
                record(
                    session,
                    actor,
                    Action.filter_update,
                    target,
                    {"words": old},
                    {"words": list(unique)},
                )
        self._use(unique)
        return unique

    def _use(self, words: tuple[str, ...]) -> None:
        self._words = words
        self._loaded_at = time.monotonic()
        if not words:
            self._pattern = None
            return
        alternatives = sorted((re.escape(w) for w in words), key=len, reverse=True)
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
