"""Feedback on answers: a user's thumbs up or down and comment, and the admin's view of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from gpuchat.schemas.common import WriteModel

MAX_COMMENT_CHARS = 2_000
# The admin list shows this much of each question and answer; the CSV has them whole.
PREVIEW_CHARS = 1_000

Rating = Literal["up", "down"]
RatingFilter = Annotated[Rating | None, Query(description="up or down")]


class FeedbackWrite(WriteModel):
    """`PUT .../feedback`: the rating, and an optional comment (replaces the previous one)."""

    rating: Rating
    comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] = ""


class FeedbackPublic(BaseModel):
    """The caller's own feedback on one answer (also inside the conversation's messages)."""

    model_config = ConfigDict(from_attributes=True)

    rating: Rating
    comment: str
    created: datetime
    updated: datetime


class FeedbackEntry(BaseModel):
    """One feedback as the admin sees it: who, on what, and the turn it was about."""

    id: int
    message_id: int
    conversation_id: int
    user_id: int
    user_email: str
    rating: Rating
    comment: str
    model: str | None = Field(description="The model alias the answer was asked of.")
    profile: str | None = Field(description="The profile that answered, when known.")
    question: str | None = Field(description=f"The question, its first {PREVIEW_CHARS} chars.")
    answer: str = Field(description=f"The answer, its first {PREVIEW_CHARS} chars.")
    created: datetime
    updated: datetime


class FeedbackPage(BaseModel):
    data: list[FeedbackEntry]
    total: int
    up: int = Field(description="Of `total`, how many are thumbs up.")
