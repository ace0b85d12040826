"""OpenTelemetry traces, exported over OTLP/HTTP only when `GPUCHAT_OTLP_ENDPOINT` is set.

Unset, nothing of OpenTelemetry's SDK is imported and every call here is a cheap no-op.
Set, each request gets a root span (the access middleware) with children: authenticate,
queue, upstream (with a `first_token` event) and persist. The upstream and queue spans are
recorded when the request ends, from the times the relay already keeps, so the hot path
does no tracing work per chunk. The trace id goes into the request's log line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

AttributeValue = str | int | float | bool


def _wall_ns(monotonic: float) -> int:
    return time.time_ns() - round((time.monotonic() - monotonic) * 1e9)


class Tracing:
    def __init__(self, endpoint: str | None) -> None:
        self._tracer: Any = None
        self._provider: Any = None
        if endpoint:
            self._setup(endpoint)

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def _setup(self, endpoint: str) -> None:
        # Imported here: a gateway without an endpoint never loads the SDK.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        provider = TracerProvider(resource=Resource.create({"service.name": "gpuchat"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=5)))
        self._provider = provider
        self._tracer = provider.get_tracer("gpuchat")

    @contextmanager
    def span(self, name: str, **attributes: AttributeValue) -> Iterator[None]:
        if self._tracer is None:
            yield
            return
        with self._tracer.start_as_current_span(name, attributes=attributes):
            yield

    def record(
        self,
        name: str,
        start: float,
        end: float,
        attributes: Mapping[str, AttributeValue | None] | None = None,
        events: Mapping[str, float | None] | None = None,
    ) -> None:
        """A finished span from monotonic times, child of the current span."""
        if self._tracer is None:
            return
        clean = {k: v for k, v in (attributes or {}).items() if v is not None}
        span = self._tracer.start_span(name, start_time=_wall_ns(start), attributes=clean)
        for event, moment in (events or {}).items():
            if moment is not None:
                span.add_event(event, timestamp=_wall_ns(moment))
        span.end(end_time=_wall_ns(end))

    def trace_id(self) -> str | None:
        if self._tracer is None:
            return None
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        return f"{context.trace_id:032x}" if context.is_valid else None

    async def close(self) -> None:
        """Flush what is left (the export blocks, so off the event loop)."""
        if self._provider is not None:
            await asyncio.to_thread(self._provider.shutdown)
