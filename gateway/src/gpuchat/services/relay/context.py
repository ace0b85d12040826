"""One upstream request's record: who asked, where it goes, what was learned on the way."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gpuchat.core.security import Principal
from gpuchat.core.tracing import Tracing
from gpuchat.engines.control import Upstream
from gpuchat.services.usage.recorder import UsageRecord

if TYPE_CHECKING:
    from gpuchat.services.relay.live import LiveStreams


@dataclass(slots=True)
class RelayContext:
    """One upstream request: who asked, where it goes, and what was learned on the way."""

    request_id: str  # the gateway's own id (unique; the usage row's key)
    principal: Principal
    alias: str
    upstream: Upstream
    client: str
    wants_usage: bool
    collect_text: bool = False
    started: float = field(default_factory=time.monotonic)
    queue_ms: int | None = None
    # Observations
    first_token_at: float | None = None
    content_chunks: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)  # the thinking, when collecting text
    done: bool = False
    status_code: int = 200
    error_type: str | None = None
    live: LiveStreams | None = None  # the admin's live view, when the caller keeps one
    stopped_by: str | None = None  # "admin" or "switch": who closed the upstream on purpose
    log: dict[str, object] | None = None  # the access-log line's fields, filled in at the end
    # Released in `finish()`, once: the admission slot and the caller's stream grant.
    holds: tuple[Callable[[], None], ...] = ()
    tracing: Tracing | None = None  # set only when traces are exported
    sample_prompt: str | None = None  # set when this request's prompt and answer are logged
    client_request_id: str | None = None  # the client's X-Request-Id: a label, never a key

    def usage_record(self) -> UsageRecord:
        now = time.monotonic()
        estimated = self.output_tokens is None and self.content_chunks > 0
        return UsageRecord(
            request_id=self.request_id,
            client_request_id=self.client_request_id,
            client=self.client,
            model_alias=self.alias,
            status_code=self.status_code,
            user_id=self.principal.user_id,
            api_key_id=self.principal.api_key_id,
            profile=self.upstream.profile.name,
            engine=self.upstream.profile.engine.value,
            ctx_len=self.input_tokens,
            input_tokens=self.input_tokens,
            output_tokens=self.content_chunks if estimated else self.output_tokens,
            tokens_estimated=estimated,
            ttft_ms=ms(self.first_token_at - self.started) if self.first_token_at else None,
            latency_ms=ms(now - self.started),
            queue_ms=self.queue_ms,
            error_type=self.error_type,
        )

    def fail(self, status: int, error_type: str) -> None:
        self.status_code, self.error_type = status, error_type


def ms(seconds: float) -> int:
    return round(seconds * 1000)
