"""The prompt for one chat turn, built from the stored thread.

Byte-stable from turn to turn: the same system prompt first, then the same stored messages,
nothing time-dependent injected, so the engine's prefix cache serves the whole history and
only the new turn is prefilled. When the thread outgrows the model's context, the oldest
turns are left out (never the system prompt, never the newest message).

The first cut uses a conservative estimate (no engine needed, so the `start` event can say
how many turns were left out at once). Once the engine is ready, `fit_exactly()` asks it to
count the prompt (vLLM's `/tokenize` applies the chat template) and leaves out more turns if
the estimate was short; `answer_budget()` then sends as `max_tokens` what the context still
holds, so a long conversation is never refused for asking more than the model can produce.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import aiohttp
import orjson

from gpuchat.db.models import Message, MessageStatus
from gpuchat.engines.control import Upstream
from gpuchat.engines.profiles import EngineKind

log = logging.getLogger(__name__)

# A conservative estimate when the engine's own count is not known: UTF-8 bytes / 3 is at
# least the token count for English and about one token per Hangul syllable for Korean.
BYTES_PER_TOKEN = 3
MESSAGE_OVERHEAD_TOKENS = 8  # role markers of the chat template
# Room kept for the answer when the user set no max_tokens ("until the model stops"): a
# quarter of the context, at least this many tokens, never more than the profile's cap.
MIN_ANSWER_ROOM = 256
COUNT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[dict[str, str]]
    trimmed: int  # stored messages left out to fit the context
    tokens: int | None = None  # counted by the engine (None: not counted)


def estimate_tokens(text: str) -> int:
    return len(text.encode("utf-8")) // BYTES_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS


def answer_room(context: int | None, cap: int, wanted: int | None) -> int:
    """Tokens kept free for the answer when the prompt is fitted into the context."""
    if wanted:
        return min(wanted, cap)
    if context is None:
        return min(cap, 512)
    return min(cap, max(MIN_ANSWER_ROOM, context // 4))


def answer_budget(context: int | None, prompt: Prompt, cap: int, wanted: int | None) -> int:
    """The `max_tokens` to send: what was asked, else until the model stops; never more than
    the profile's cap, nor than the context holds after the prompt (counted, else estimated:
    the estimate is on the high side, so this errs towards a shorter answer)."""
    budget = min(wanted or cap, cap)
    if context is not None:
        used = prompt.tokens
        if used is None:
            used = sum(estimate_tokens(m["content"]) for m in prompt.messages)
        budget = min(budget, context - used)
    return max(1, budget)


def _included(message: Message) -> bool:
    # A failed answer with no text says nothing to the model; a partial one does.
    return not (
        message.role == "assistant"
        and message.status == MessageStatus.error
        and not message.content
    )


def build_prompt(
    system_prompt: str, thread: Sequence[Message], *, context: int | None, reserve: int
) -> Prompt:
    """`thread` ends with the new user message; `reserve` is room kept for the answer."""
    turns = [{"role": m.role, "content": m.content} for m in thread if _included(m)]
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    if context is None:
        return Prompt([*system, *turns], 0)
    budget = context - reserve - sum(estimate_tokens(m["content"]) for m in system)
    sizes = [estimate_tokens(turn["content"]) for turn in turns]
    start = 0
    while start < len(turns) - 1 and sum(sizes[start:]) > budget:
        start += 1
    # Never open with an assistant message: drop a dangling answer whose question went.
    while start < len(turns) - 1 and turns[start]["role"] == "assistant":
        start += 1
    return Prompt([*system, *turns[start:]], start)


async def count_tokens(
    http: aiohttp.ClientSession, upstream: Upstream, messages: list[dict[str, str]]
) -> int | None:
    """The prompt's tokens as the engine counts them, chat template included; None when the
    engine cannot say (only vLLM's `/tokenize` takes chat messages)."""
    if upstream.profile.engine not in (EngineKind.vllm, EngineKind.external):
        return None
    url = upstream.base_url.removesuffix("/v1") + "/tokenize"
    body = {"model": upstream.model, "messages": messages, "add_generation_prompt": True}
    try:
        async with http.post(
            url,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=COUNT_TIMEOUT_S),
        ) as response:
            if response.status != 200:
                return None
            count = orjson.loads(await response.read()).get("count")
    except (aiohttp.ClientError, TimeoutError, OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return count if isinstance(count, int) and count > 0 else None


async def fit_exactly(
    http: aiohttp.ClientSession, upstream: Upstream, prompt: Prompt, room: int
) -> Prompt:
    """Count the prompt with the engine and leave out the oldest turns until it and `room`
    tokens of answer fit the engine's context. The system prompt and the newest message
    always stay (the engine refuses what still does not fit, and says so)."""
    context = upstream.context
    if context is None:
        return prompt
    estimated = sum(estimate_tokens(m["content"]) for m in prompt.messages)
    if estimated <= (context - room) // 2:
        return prompt  # fits even if the estimate were half the truth: no round trip
    messages, trimmed = prompt.messages, prompt.trimmed
    system = 1 if messages and messages[0]["role"] == "system" else 0
    while True:
        tokens = await count_tokens(http, upstream, messages)
        if tokens is None:
            return replace(prompt, messages=messages, trimmed=trimmed)
        if tokens + room <= context or len(messages) - system <= 1:
            return Prompt(messages, trimmed, tokens)
        drop = 1
        # Never open with an assistant message: its question goes with it.
        while system + drop < len(messages) - 1 and messages[system + drop]["role"] == "assistant":
            drop += 1
        log.debug("prompt of %d tokens exceeds %d; leaving out %d more", tokens, context, drop)
        messages = messages[:system] + messages[system + drop :]
        trimmed += drop
