"""Prometheus metrics. They reveal no configuration: names of models and engines, numeric
user ids, counts and timings only. Still, per-user counters are nobody's business: with
`GPUCHAT_METRICS_TOKEN` they need that bearer token, from `GPUCHAT_METRICS_SOURCES` they
need nothing, and in production nobody else reads them (development without a token:
anyone, as before)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from gpuchat.api.deps import StateDep
from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.core.network import parse_networks, peer_in
from gpuchat.services.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, 401: {}, 403: {}},
)
async def metrics(request: Request, state: StateDep) -> Response:
    _check_reader(request, state.settings)
    return Response(await state.metrics.render(state.upstreams), media_type=CONTENT_TYPE)


def _check_reader(request: Request, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), token.encode()):
            return
    if settings.metrics_sources and peer_in(
        request, parse_networks(tuple(settings.metrics_sources))
    ):
        return
    if token:
        raise GatewayError(401, "A metrics token is required", code="not_authenticated")
    if settings.is_production or settings.metrics_sources:
        raise GatewayError(
            403,
            "Metrics are served with GPUCHAT_METRICS_TOKEN or to GPUCHAT_METRICS_SOURCES only",
            code="metrics_forbidden",
        )
