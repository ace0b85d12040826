"""Conversation titles as the model writes them, cleaned to one short line."""

from __future__ import annotations

import pytest

from gpuchat.services.chat.titles import clean_title


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ('"Seoul trip ideas."', "Seoul trip ideas"),
        ("Title: 서울 여행 추천", "서울 여행 추천"),
        # A reasoning model served without a reasoning parser thinks inside its answer.
        ("<think>The user asks about Seoul.\nShort.</think>\n\nSeoul day trips", "Seoul day trips"),
        ("<think>still thinking when max_tokens ran out", ""),
    ],
)
def test_a_title_is_one_clean_line_without_the_thinking(written: str, title: str) -> None:
    assert clean_title(written) == title
