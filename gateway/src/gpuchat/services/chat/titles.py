"""Automatic conversation titles: asked of the model after the first answer.

Never an error for the user: whatever goes wrong, the title is the first message, cut short.
"""

from __future__ import annotations

import asyncio
import re
import secrets

import aiohttp
import orjson

from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import Client
from gpuchat.engines.control import EngineUnavailable, UnknownModel
from gpuchat.services.chat.turn import Turn, fallback_title
from gpuchat.services.relay.request import UpstreamRequest, Upstreams

_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
TITLE_TIMEOUT_SECONDS = 30.0
MAX_TITLE_CHARS = 80
INSTRUCTION = (
    "Write a title for the conversation below: at most six words, in the same language as "
    "the user's message, with no quotation marks and no final punctuation. "
    "Reply with the title only."
)


async def title_for(upstreams: Upstreams, principal: Principal, turn: Turn, answer: str) -> str:
    fallback = fallback_title(turn.first_question)
    try:
        text = await _ask(upstreams, principal, turn, answer)
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
    # A reasoning model without a reasoning parser thinks inside the answer: drop it.
    text = _THINKING.sub("", text)
    line = next((line for line in text.strip().splitlines() if line.strip()), "")
    line = line.strip().strip("\"'“”‘’`*#").strip()
    line = line.removeprefix("Title:").removeprefix("제목:").strip().rstrip(".。!")
    return line[:MAX_TITLE_CHARS]


async def _ask(upstreams: Upstreams, principal: Principal, turn: Turn, answer: str) -> str:
    alias = upstreams.engines.profile_for(turn.alias).title_model or turn.alias
    profile = upstreams.engines.profile_for(alias)
    question = f"User: {turn.first_question[:1500]}\n\nAssistant: {answer[:1500]}"
    request = UpstreamRequest(
        upstreams,
        request_id="title-" + secrets.token_hex(8),
        principal=principal,
        alias=alias,
        client=Client.internal,
    )
    # A title is an upstream request like any other: it takes its turn in the queue.
    async with request, asyncio.timeout(TITLE_TIMEOUT_SECONDS):
        if not await request.admit(profile):
            await request.wait_turn()
        await request.acquire()
        # Not the profile's policy: its system prompt and sampling defaults are for answers;
        # a title has its own instruction, length and temperature (docs/operations.md).
        body = {
            "model": request.upstream.model,
            "messages": [
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": question},
            ],
            "max_tokens": 24,
            "temperature": 0.2,
            "stream": False,
        }
        await request.open(orjson.dumps(body))
        payload = orjson.loads(await request.read())
    return str(payload["choices"][0]["message"]["content"] or "")
