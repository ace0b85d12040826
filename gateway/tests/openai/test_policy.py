from __future__ import annotations

from typing import Any

from gpuchat.openai.policy import fill_unset, join_system, with_system_prompt


def test_fill_unset_keeps_what_the_client_set() -> None:
    body: dict[str, Any] = {"temperature": 0, "top_p": None, "repeat_penalty": 1.0}
    fill_unset(body, {"temperature": 0.7, "top_p": 0.8, "repetition_penalty": 1.1, "seed": 1})
    assert body == {"temperature": 0, "top_p": 0.8, "repeat_penalty": 1.0, "seed": 1}


def test_fill_unset_max_completion_tokens_counts_as_max_tokens() -> None:
    body: dict[str, Any] = {"max_completion_tokens": 5}
    fill_unset(body, {"max_tokens": 300})
    assert body == {"max_completion_tokens": 5}


def test_with_system_prompt_goes_first_in_one_system_message() -> None:
    user = {"role": "user", "content": "hi"}
    assert with_system_prompt([user], "") == [user]
    assert with_system_prompt([user], "Rules.") == [{"role": "system", "content": "Rules."}, user]
    own = [{"role": "developer", "content": "Mine.", "name": "x"}, user]
    assert with_system_prompt(own, "Rules.") == [
        {"role": "developer", "content": "Rules.\n\nMine.", "name": "x"},
        user,
    ]
    assert own[0]["content"] == "Mine."  # the input is left as it was
    parts = [{"role": "system", "content": [{"type": "text", "text": "Mine."}]}]
    assert with_system_prompt(parts, "Rules.")[0]["content"] == [
        {"type": "text", "text": "Rules.\n\n"},
        {"type": "text", "text": "Mine."},
    ]
    later = [user, {"role": "system", "content": "late"}]
    assert with_system_prompt(later, "Rules.")[0] == {"role": "system", "content": "Rules."}


def test_join_system_leaves_out_empty_parts() -> None:
    assert join_system("A", "B") == "A\n\nB"
    assert join_system("", "B") == "B" and join_system("A", "") == "A"
