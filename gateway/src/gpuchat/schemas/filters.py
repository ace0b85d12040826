"""API schema of the forbidden-word list (`/api/admin/filters`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Word = Annotated[str, Field(min_length=1, max_length=200)]


class ForbiddenWordsPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    words: Annotated[list[Word], Field(max_length=5000)]
