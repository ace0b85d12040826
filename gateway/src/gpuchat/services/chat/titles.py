"""Automatic conversation titles: asked of the model after the first answer.

Never an error for the user: whatever goes wrong, the title is the first message, cut short.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import aiohttp
import orjson

from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import Client
from gpuchat.engines.control import EngineUnavailable, UnknownModel
from gpuchat.services.chat.turn import Turn, fallback_title
from gpuchat.services.relay.stream import RelayContext, finish, open_upstream

if TYPE_CHECKING:
    from gpuchat.state import AppState

TITLE_TIMEOUT_SECONDS = 30.0
MAX_TITLE_CHARS = 80
INSTRUCTION = (
    "Write a title for the conversation below: at most six words, in the same language as "
    "the user's message, with no quotation marks and no final punctuation. "
    "Reply with the title only."
)


async def title_for(state: AppState, principal: Principal, turn: Turn, answer: str) -> str:
    fallback = fallback_title(turn.first_question)
    try:
        async with asyncio.timeout(TITLE_TIMEOUT_SECONDS):
            text = await _ask(state, principal, turn, answer)
    except (
        GatewayError,
        TimeoutError,
        EngineUnavailable,
        UnknownModel,
        aiohttp.ClientError,
        orjson.JSONDecodeError,
        KeyError,
        IndexError,
        TypeError,
    ):
        return fallback
    return clean_title(text) or fallback


def clean_title(text: str) -> str:
    line = next((line for line in text.strip().splitlines() if line.strip()), "")
    line = line.strip().strip("\"'“”‘’`*#").strip()
    line = line.removeprefix("Title:").removeprefix("제목:").strip().rstrip(".。!")
    return line[:MAX_TITLE_CHARS]


async def _ask(state: AppState, principal: Principal, turn: Turn, answer: str) -> str:
    alias = state.engines.profile_for(turn.alias).title_model or turn.alias
    profile = state.engines.profile_for(alias)
    # A title is an upstream request like any other: it takes its turn in the queue.
    ticket = state.admission.enter(profile.name, profile.max_concurrency, str(principal.user_id))
    try:
        await state.admission.wait(ticket)
        upstream = await state.engines.acquire(alias)
    except BaseException:
        ticket.close()
        raise
    ctx = RelayContext(
        request_id="title-" + secrets.token_hex(8),
        principal=principal,
        alias=alias,
        upstream=upstream,
        client=Client.internal,
        wants_usage=True,
        queue_ms=ticket.waited_ms,
        holds=(ticket.close,),
    )
    body = orjson.dumps(
        {
            "model": upstream.model,
            "messages": [
                {"role": "system", "content": INSTRUCTION},
                {
                    "role": "user",
                    "content": f"User: {turn.first_question[:1500]}\n\nAssistant: {answer[:1500]}",
                },
            ],
            "max_tokens": 24,
            "temperature": 0.2,
            "stream": False,
        }
    )
    try:
        response = await open_upstream(state.http, ctx, body)
        try:
            payload = orjson.loads(await response.read())
        finally:
            response.release()
        ctx.done = True
        usage = payload.get("usage") or {}
        ctx.input_tokens, ctx.output_tokens = (
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )
        return str(payload["choices"][0]["message"]["content"] or "")
    finally:
        if not ctx.done and ctx.error_type is None:
            ctx.fail(504, "upstream_timeout")
        finish(ctx, state.usage)
