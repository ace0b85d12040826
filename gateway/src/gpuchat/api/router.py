"""Every route, on one screen."""

from __future__ import annotations

from fastapi import APIRouter

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
from gpuchat.schemas.errors import ERROR_RESPONSES

api_router = APIRouter(responses=ERROR_RESPONSES)
api_router.include_router(health.router)  # GET /healthz, GET /readyz
api_router.include_router(metrics.router)  # GET /metrics (Prometheus)
api_router.include_router(openai.router)  # POST /v1/chat/completions, GET /v1/models
# POST /api/auth/login, POST /api/auth/logout, POST /api/auth/logout-all
api_router.include_router(auth.router)
# GET /api/auth/options, GET /api/auth/oidc/login, GET /api/auth/oidc/callback (SSO)
api_router.include_router(sso.router)
# GET /api/me, PATCH /api/me/settings, POST /api/me/password, GET /api/me/quota,
# GET /api/me/usage, GET /api/me/usage/series, GET /api/me/usage.csv
api_router.include_router(me.router)
api_router.include_router(keys.router)  # GET|POST /api/keys, DELETE /api/keys/{id}
# GET|POST /api/conversations, GET|PATCH|DELETE /api/conversations/{id}, GET .../{id}/export
api_router.include_router(conversations.router)
# PUT|DELETE /api/conversations/{id}/messages/{message_id}/feedback
api_router.include_router(feedback.router)
api_router.include_router(chat.router)  # POST /api/chat (SSE), POST /api/chat/{request_id}/stop
# Admin: GET|POST /api/admin/users, PATCH /api/admin/users/{id}, POST .../{id}/password
api_router.include_router(admin_users.router)
# Admin: GET /api/admin/users/{id}/keys, DELETE /api/admin/users/{id}/keys/{key_id}
api_router.include_router(admin_keys.router)
# Admin: GET|POST /api/admin/groups, GET|PATCH|DELETE /api/admin/groups/{id},
# PUT|DELETE /api/admin/groups/{id}/members/{user_id}
api_router.include_router(admin_groups.router)
# Admin: GET /api/admin/profiles, POST /api/admin/profiles/{name}/activate, .../{name}/stop
api_router.include_router(admin_profiles.router)
# GET|POST /api/admin/profiles/definitions, GET|PUT|DELETE .../definitions/{name},
# POST .../definitions/{name}/clone, POST /api/admin/profiles/preview, GET .../export
api_router.include_router(admin_profile_definitions.router)
api_router.include_router(admin_engines.router)  # GET /api/admin/engines/{name}/logs
# Admin: GET /api/admin/live (SSE), POST /api/admin/streams/{request_id}/stop
api_router.include_router(admin_live.router)
api_router.include_router(admin_benchmarks.router)  # GET /api/admin/benchmarks
api_router.include_router(admin_filters.router)  # GET|PUT /api/admin/filters
# Admin: GET /api/admin/usage, GET /api/admin/usage/series, GET /api/admin/usage.csv
api_router.include_router(admin_usage.router)
# Admin: GET /api/admin/feedback, GET /api/admin/feedback.csv
api_router.include_router(admin_feedback.router)
api_router.include_router(admin_audit.router)  # GET /api/admin/audit, GET /api/admin/audit.csv
# Last: GET /assets/*, and index.html for any other page path (the web UI's SPA fallback)
api_router.include_router(ui.router)
