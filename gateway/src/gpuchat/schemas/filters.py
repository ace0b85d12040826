"""API schema of the forbidden-word list (`/api/admin/filters`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from gpuchat.schemas.common import WriteModel

Word = Annotated[str, Field(min_length=1, max_length=200)]


class ForbiddenWordsPublic(WriteModel):
    words: Annotated[list[Word], Field(max_length=5000)]
