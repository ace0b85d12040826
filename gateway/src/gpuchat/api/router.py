"""Every route, on one screen."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import Schema

from gpuchat.api.routes import (
    auth,
    chat,
    conversations,
    feedback,
    health,
    keys,
    me,
    metrics,
    openai,
    sso,
    ui,
)
from gpuchat.api.routes.admin import audit as admin_audit
from gpuchat.api.routes.admin import benchmarks as admin_benchmarks
from gpuchat.api.routes.admin import engines as admin_engines
from gpuchat.api.routes.admin import feedback as admin_feedback
from gpuchat.api.routes.admin import filters as admin_filters
from gpuchat.api.routes.admin import groups as admin_groups
from gpuchat.api.routes.admin import keys as admin_keys
from gpuchat.api.routes.admin import live as admin_live
from gpuchat.api.routes.admin import profile_definitions as admin_profile_definitions
from gpuchat.api.routes.admin import profiles as admin_profiles
from gpuchat.api.routes.admin import usage as admin_usage
from gpuchat.api.routes.admin import users as admin_users
from gpuchat.schemas.errors import ERROR_RESPONSES, error_schemas


def include_routes(app: FastAPI) -> None:
    """Every route, in matching order, each documenting the error envelope.

    The routers go into the app one by one, not through a router of routers: including a
    router without a prefix makes FastAPI build the state of every route beneath it, to
    check its path, and then build it again for the app on the first request (0.2 s CPU
    at start-up for nothing)."""
    for router in (
        health.router,  # GET /healthz, GET /readyz
        metrics.router,  # GET /metrics (Prometheus)
        openai.router,  # POST /v1/chat/completions, GET /v1/models
        # POST /api/auth/login, POST /api/auth/logout, POST /api/auth/logout-all
        auth.router,
        # GET /api/auth/options, GET /api/auth/oidc/login, GET /api/auth/oidc/callback (SSO)
        sso.router,
        # GET /api/me, PATCH /api/me/settings, POST /api/me/password, GET /api/me/quota,
        # GET /api/me/usage, GET /api/me/usage/series, GET /api/me/usage.csv
        me.router,
        keys.router,  # GET|POST /api/keys, DELETE /api/keys/{id}
        # GET|POST /api/conversations, GET|PATCH|DELETE /api/conversations/{id}, GET .../{id}/export
        conversations.router,
        # PUT|DELETE /api/conversations/{id}/messages/{message_id}/feedback
        feedback.router,
        chat.router,  # POST /api/chat (SSE), POST /api/chat/{request_id}/stop
        # Admin: GET|POST /api/admin/users, PATCH /api/admin/users/{id}, POST .../{id}/password
        admin_users.router,
        # Admin: GET /api/admin/users/{id}/keys, DELETE /api/admin/users/{id}/keys/{key_id}
        admin_keys.router,
        # Admin: GET|POST /api/admin/groups, GET|PATCH|DELETE /api/admin/groups/{id},
        # PUT|DELETE /api/admin/groups/{id}/members/{user_id}
        admin_groups.router,
        # Admin: GET /api/admin/profiles, POST /api/admin/profiles/{name}/activate, .../{name}/stop
        admin_profiles.router,
        # GET|POST /api/admin/profiles/definitions, GET|PUT|DELETE .../definitions/{name},
        # POST .../definitions/{name}/clone, POST /api/admin/profiles/preview, GET .../export
        admin_profile_definitions.router,
        admin_engines.router,  # GET /api/admin/engines/{name}/logs
        # Admin: GET /api/admin/live (SSE), POST /api/admin/streams/{request_id}/stop
        admin_live.router,
        admin_benchmarks.router,  # GET /api/admin/benchmarks
        admin_filters.router,  # GET|PUT /api/admin/filters
        # Admin: GET /api/admin/usage, GET /api/admin/usage/series, GET /api/admin/usage.csv
        admin_usage.router,
        # Admin: GET /api/admin/feedback, GET /api/admin/feedback.csv
        admin_feedback.router,
        admin_audit.router,  # GET /api/admin/audit, GET /api/admin/audit.csv
        # Last: GET /assets/*, and index.html for any other page path (the web UI's SPA fallback)
        ui.router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)


class GatewayApp(FastAPI):
    """FastAPI, with the error envelope's schemas in the OpenAPI document: every route
    refers to them (`ERROR_RESPONSES`), none declares the model."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema:
            return self.openapi_schema
        document = super().openapi()  # kept as self.openapi_schema: completed in place
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in error_schemas().items():
            # Written as FastAPI writes a model's: its key order, no `null` defaults.
            schemas[name] = jsonable_encoder(
                Schema.model_validate(schema), by_alias=True, exclude_none=True
            )
        document["components"]["schemas"] = dict(sorted(schemas.items()))
        return document
