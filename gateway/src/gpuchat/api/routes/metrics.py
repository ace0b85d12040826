"""Prometheus metrics. They reveal no configuration: names of models and engines, numeric
user ids, counts and timings only. `GPUCHAT_METRICS_TOKEN` puts them behind a bearer token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from gpuchat.api.deps import StateDep
from gpuchat.core.errors import GatewayError
from gpuchat.services.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(request: Request, state: StateDep) -> Response:
    token = state.settings.metrics_token
    if token is not None and token.get_secret_value():
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise GatewayError(401, "A metrics token is required", code="not_authenticated")
    return Response(await state.metrics.render(state), media_type=CONTENT_TYPE)
