"""Prompt building: byte-stable history, trimming oldest turns to fit the context."""

from __future__ import annotations

from gpuchat.db.models import Message
from gpuchat.services.prompt import build_prompt, estimate_tokens


def thread(*pairs: tuple[str, str]) -> list[Message]:
    return [
        Message(id=i, role=role, content=content, status="complete")
        for i, (role, content) in enumerate(pairs)
    ]


def test_prompt_keeps_everything_when_it_fits() -> None:
    messages = thread(("user", "a"), ("assistant", "b"), ("user", "c"))
    prompt = build_prompt("sys", messages, context=4096, reserve=256)
    assert prompt.trimmed == 0
    assert prompt.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]


def test_prompt_drops_oldest_turns_never_system_or_newest() -> None:
    long = "x" * 3000  # ~1000 tokens each
    messages = thread(
        ("user", long), ("assistant", long), ("user", long), ("assistant", long), ("user", "newest")
    )
    prompt = build_prompt("system stays", messages, context=2600, reserve=256)
    assert prompt.messages[0] == {"role": "system", "content": "system stays"}
    assert prompt.messages[-1] == {"role": "user", "content": "newest"}
    assert prompt.messages[1]["role"] == "user"  # never opens with a dangling answer
    assert prompt.trimmed == 2
    used = sum(estimate_tokens(m["content"]) for m in prompt.messages)
    assert used <= 2600 - 256


def test_prompt_is_byte_stable_from_turn_to_turn() -> None:
    first = thread(("user", "q1"), ("assistant", "a1"), ("user", "q2"))
    second = [*first, *thread(("assistant", "a2"), ("user", "q3"))]
    one = build_prompt("s", first, context=None, reserve=0).messages
    two = build_prompt("s", second, context=None, reserve=0).messages
    assert two[: len(one)] == one
