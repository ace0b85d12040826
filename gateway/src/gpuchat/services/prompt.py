"""The prompt for one chat turn, built from the stored thread.

Byte-stable from turn to turn: the same system prompt first, then the same stored messages,
nothing time-dependent injected, so the engine's prefix cache serves the whole history and
only the new turn is prefilled. When the thread outgrows the model's context, the oldest
turns are left out (never the system prompt, never the newest message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gpuchat.db.models import Message, MessageStatus
from gpuchat.engines.profiles import EngineKind, Profile

# A conservative estimate when the engine's own count is not known: UTF-8 bytes / 3 is at
# least the token count for English and about one token per Hangul syllable for Korean.
BYTES_PER_TOKEN = 3
MESSAGE_OVERHEAD_TOKENS = 8  # role markers of the chat template


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[dict[str, str]]
    trimmed: int  # stored messages left out to fit the context


def estimate_tokens(text: str) -> int:
    return len(text.encode("utf-8")) // BYTES_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS


def context_length(profile: Profile) -> int | None:
    if profile.engine is EngineKind.llamacpp:
        return profile.llamacpp.ctx
    vllm = getattr(profile, "vllm", None)
    return getattr(vllm, "max_model_len", None) if vllm is not None else None


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
