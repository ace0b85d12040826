"""What the supervisor's HTTP API sends besides control.py's models: upstreams and errors.

One table maps each control error to an HTTP status and a `type`, read in both directions:
the supervisor answers with it, `RemoteEngineControl` raises the same exception from it.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn, get_args

from pydantic import BaseModel

from gpuchat.core.notices import Notice, NoticeCode
from gpuchat.engines.control import (
    RETRY_STOPPING_S,
    ControlRefused,
    EngineStatus,
    EngineUnavailable,
    SwitchConflict,
    UnknownModel,
)

CONTROL_PREFIX: Final = "/control"
PROXY_PREFIX: Final = "/proxy"


class UpstreamWire(BaseModel):
    profile: str
    base_url: str  # a path on the supervisor (`/proxy/<token>/v1`) or an external URL
    model: str
    lease: str | None = None
    context: int | None = None  # the engine's context length, when known


class ControlReply(BaseModel):
    """Every control answer, errors too, carries the statuses after the call, so the
    client's plain `statuses()` and `is_ready()` see what the call did at once."""

    boot: str  # the supervisor process: a restarted one starts `seq` again
    seq: int  # rises with every answer: an older answer never overwrites a newer view
    statuses: list[EngineStatus]
    upstream: UpstreamWire | None = None
    status: EngineStatus | None = None
    revoked: list[str] = []
    # The profile set's version: a client that knew another one reads GET /profiles again.
    profiles: str = ""
    # PUT /control/profiles: whether the set was taken (False: the supervisor holds one of
    # a higher revision, so this one is older), and the revision it holds now.
    applied: bool | None = None
    revision: int | None = None


ControlError = UnknownModel | EngineUnavailable | SwitchConflict | ControlRefused


def error_reply(exc: ControlError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for a control error."""
    if isinstance(exc, UnknownModel):
        return 404, {"type": "unknown_model", "message": str(exc), "alias": exc.alias}
    body: dict[str, Any] = {"message": exc.message}
    if exc.notice is not None:
        body |= {"code": exc.notice.code, "params": exc.notice.params}
    if isinstance(exc, EngineUnavailable):
        return 503, {"type": "unavailable", **body, "retry_after": exc.retry_after}
    if isinstance(exc, SwitchConflict):
        return 409, {"type": "switch_conflict", **body}
    return 409, {"type": "refused", **body}


_CODES: Final = frozenset(get_args(NoticeCode))


def raise_error(status: int, body: Any) -> NoReturn:
    """Raise the control error an error reply describes (a garbled one: unavailable)."""
    body = body if isinstance(body, dict) else {}
    kind = body.get("type")
    message = str(body.get("message") or f"supervisor said {status}")
    reason: str | Notice = message
    code, params = body.get("code"), body.get("params")
    if code in _CODES and isinstance(params, dict):  # an older supervisor sends no code
        reason = Notice(code, message, params)
    if kind == "unknown_model":
        raise UnknownModel(str(body.get("alias", "")))
    if kind == "switch_conflict":
        raise SwitchConflict(reason)
    if kind == "refused":
        raise ControlRefused(reason)
    retry = body.get("retry_after")
    if kind == "unavailable":
        raise EngineUnavailable(reason, retry if isinstance(retry, int) else RETRY_STOPPING_S)
    raise EngineUnavailable(
        Notice("supervisor_refused", "the engine supervisor refused the request"),
        RETRY_STOPPING_S,
    )
