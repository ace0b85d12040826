"""AUDIT HOOK for profile changes (issue #16): the one function every profile change
(create, update, clone, delete) passes through. The audit service is built beside this
one; at merge this function hands its arguments to it, in the caller's transaction
(`session`), so a change and its audit row commit together."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


class ProfileAction(StrEnum):
    create = "profile.create"  # also a clone: `before` is None, `after` the copy
    update = "profile.update"
    delete = "profile.delete"


async def record_profile_change(
    session: AsyncSession,
    *,
    actor_id: int,
    action: ProfileAction,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """TODO(audit, at merge): record through the audit service (table 0008)."""
    del session, before, after  # the audit service stores them
    log.info("profile change %s %s by user %d", action.value, target, actor_id)
