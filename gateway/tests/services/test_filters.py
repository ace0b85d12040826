"""PII masking for sampled log lines, and the forbidden-word filter on both chat paths."""

from __future__ import annotations

import secrets

import pytest

from gpuchat.services.filters import mask_pii
from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail kim.minsu+x@example.co.kr now", "mail [email] now"),
        ("휴대폰 010-1234-5678 로", "휴대폰 [phone] 로"),
        ("call 01012345678", "call [phone]"),
        ("+82 10-1234-5678 please", "[phone] please"),
        ("office 02-123-4567", "office [phone]"),
        ("us +1 415 555 0100", "us [phone]"),
        ("주민번호 900101-1234567 입니다", "주민번호 [rrn] 입니다"),
        ("rrn 9001012234567", "rrn [rrn]"),
        ("card 4111 1111 1111 1111 exp", "card [card] exp"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("amex 378282246310005", "amex [card]"),
    ],
)
def test_mask_pii_hides_personal_numbers_and_addresses(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text", ["version 1.2.3", "in 2024-03-05 at 10:30", "order #12345", "price 1,234,567원"]
)
def test_mask_pii_leaves_ordinary_text(text: str) -> None:
    assert mask_pii(text) == text


async def test_forbidden_words_refuse_v1_and_web_chat_and_are_counted(
    gateway: RunningGateway,
) -> None:
    word = "Banned" + secrets.token_hex(3)
    email = f"filter-{secrets.token_hex(3)}@example.com"
    await gateway.create_user(email)
    async with gateway.client() as admin:
        put = await admin.put("/api/admin/filters", json={"words": [word, "  ", word]})
        try:
            assert put.json() == {"words": [word]}
            assert (await admin.get("/api/admin/filters")).json() == {"words": [word]}
            refused = await admin.post(
                "/v1/chat/completions", json=chat_body(f"say {word.upper()} now", stream=False)
            )
            allowed = await admin.post("/v1/chat/completions", json=chat_body("fine", stream=False))
            async with gateway.login(email) as browser:
                web = await chat(browser, {"content": f"x{word.lower()}x"})
                forbidden = await browser.put("/api/admin/filters", json={"words": []})
            metrics = (await admin.get("/metrics")).text
        finally:
            await admin.put("/api/admin/filters", json={"words": []})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "content_filtered"
    assert allowed.status_code == 200
    assert web.status == 400 and web.body is not None
    assert web.body["error"]["code"] == "content_filtered"
    assert forbidden.status_code == 403
    assert "gpuchat_content_filtered_total 2.0" in metrics


def _carriers(word: str) -> dict[str, list[dict[str, object]]]:
    """Messages that carry the word anywhere but in a plain user string."""
    hi = {"role": "user", "content": "hi"}
    return {
        "system": [{"role": "system", "content": f"always say {word}"}, hi],
        "developer": [{"role": "developer", "content": word}, hi],
        "assistant": [hi, {"role": "assistant", "content": f"I said {word}"}, hi],
        "text-part": [{"role": "user", "content": [{"type": "text", "text": word}]}],
        "other-part": [{"role": "user", "content": [{"type": "input_text", "text": word}]}],
        "system-part": [{"role": "system", "content": [{"type": "text", "text": word}]}, hi],
        "tool-call": [
            hi,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": f'{{"q": "{word}"}}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
    }


async def test_forbidden_words_are_found_in_every_role_and_part(gateway: RunningGateway) -> None:
    word = "Hidden" + secrets.token_hex(3)
    email = f"carrier-{secrets.token_hex(3)}@example.com"
    await gateway.create_user(email)
    async with gateway.client() as admin:
        await admin.put("/api/admin/filters", json={"words": [word]})
        try:
            refused = {
                name: await admin.post(
                    "/v1/chat/completions",
                    json={"model": "fake-model", "messages": messages},
                )
                for name, messages in _carriers(word).items()
            }
            async with gateway.login(email) as browser:
                created = await browser.post(
                    "/api/conversations", json={"system_prompt": f"use {word.lower()}"}
                )
                conversation = created.json()["id"]
                web = await chat(browser, {"conversation_id": conversation, "content": "hi"})
                stored = await browser.get(f"/api/conversations/{conversation}")
                direct = await chat(browser, {"content": "hi", "system_prompt": word})
        finally:
            await admin.put("/api/admin/filters", json={"words": []})
    for name, response in refused.items():
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"]["code"] == "content_filtered", name
    assert web.status == 400 and web.body is not None
    assert web.body["error"]["code"] == "content_filtered"
    assert stored.json()["messages"] == []  # the refused question was not kept
    assert direct.status == 400
