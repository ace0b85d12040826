"""OpenAI-compatible API: `/v1/chat/completions` and `/v1/models`."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from gpuchat.api.deps import CurrentPrincipal, StateDep
from gpuchat.openai.fields import apply_engine_fields
from gpuchat.openai.protocol import (
    ChatCompletionRequest,
    ModelCard,
    ModelDefaults,
    ModelList,
    inline_schema,
    parse_chat_request,
)
from gpuchat.services import completions
from gpuchat.services.filters import message_texts

router = APIRouter(prefix="/v1", tags=["openai"])

_CHAT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": inline_schema(ChatCompletionRequest)}},
    }
}


@router.post("/chat/completions", openapi_extra=_CHAT_BODY)
async def chat_completions(
    request: Request, principal: CurrentPrincipal, state: StateDep
) -> Response:
    chat = parse_chat_request(await request.body())
    profile = completions.find_profile(state.engines, chat.model)
    completions.check_model_allowed(principal, chat.model, profile.names)
    apply_engine_fields(chat, profile.engine.value, profile.limits.max_tokens)
    await state.filters.check(message_texts(chat.messages))
    return await completions.serve(request, state.upstreams, state.limits, principal, chat, profile)


@router.get("/models")
async def list_models(principal: CurrentPrincipal, state: StateDep) -> ModelList:
    """The models the caller's groups allow (every available one when they allow all)."""
    created = int(time.time())
    default = state.engines.profile_for("default").name
    data: list[ModelCard] = []
    for status in state.engines.statuses():
        names = [status.name, *status.aliases]
        if not status.available or not completions.groups_allow(principal, names):
            continue
        if status.name == default and "default" not in names:
            names.append("default")
        profile = state.engines.profile_for(status.name)
        data.extend(
            ModelCard(
                id=name,
                created=created,
                owned_by="gpuchat",
                root=status.name,
                ready=status.state == "ready",
                defaults=ModelDefaults.model_validate(profile.defaults.model_dump()),
                has_system_prompt=bool(profile.system_prompt),
                system_prompt=profile.system_prompt or None,
            )
            for name in names
        )
    return ModelList(data=data)
