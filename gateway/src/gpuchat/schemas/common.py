"""Types shared by the API schemas."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_DB_ID = 2_147_483_647  # PostgreSQL `integer`: a larger id is a 422, never a 500

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
