"""Conversation and message schemas (API side; the ORM models are in db/models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuchat.schemas.common import DbId, WriteModel
from gpuchat.schemas.feedback import FeedbackPublic

Title = Annotated[str, Field(max_length=500)]
SystemPrompt = Annotated[str, Field(max_length=20_000)]
ModelAlias = Annotated[str, Field(min_length=1, max_length=128)]
MAX_CONTENT_CHARS = 200_000


class _Write(WriteModel):
    """A request body: no unknown fields, no NUL characters (schemas/common.py)."""


class ConversationCreate(_Write):
    title: Title | None = None
    model: ModelAlias | None = None
    system_prompt: SystemPrompt | None = None


class ConversationUpdate(_Write):
    title: Title | None = None
    pinned: bool | None = None
    model: ModelAlias | None = None
    system_prompt: SystemPrompt | None = None


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    model: str
    system_prompt: str
    pinned: bool
    created: datetime
    updated: datetime


class ConversationsPublic(BaseModel):
    data: list[ConversationPublic]
    next_before: str | None = Field(
        default=None, description="Pass as `before` to get the next (older) page."
    )


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    parent_id: int | None
    role: Literal["system", "user", "assistant"]
    content: str
    reasoning: str | None = Field(
        default=None, description="A reasoning model's thinking before the answer, if any."
    )
    reasoning_ms: int | None = Field(default=None, description="How long it thought.")
    status: Literal["complete", "interrupted", "error"]
    model: str | None
    token_in: int | None
    token_out: int | None
    ttft_ms: int | None
    latency_ms: int | None
    created: datetime
    feedback: FeedbackPublic | None = Field(
        default=None, description="The caller's thumbs up or down on this answer, if any."
    )


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic] = Field(
        description="The active thread, oldest first (alternatives with `all=true`)."
    )


class ChatRequest(_Write):
    """`POST /api/chat`: one turn. Unset parameters fall back to the user's settings."""

    conversation_id: DbId | None = None
    content: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)] | None = None
    model: ModelAlias | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    system_prompt: SystemPrompt | None = None
    regenerate: bool = False
    edit_message_id: DbId | None = Field(
        default=None, description="Resend from this user message with new content (a branch)."
    )
