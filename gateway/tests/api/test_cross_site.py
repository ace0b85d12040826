"""Cross-site writes: a cookie-authenticated change must come from this origin, and JSON
routes read JSON only (QUALITY.md: same-site and cross-site browsers)."""

from __future__ import annotations

import httpx

from tests.utils.gateway import ALLOWED_ORIGIN, RunningGateway
from tests.utils.streams import chat_body

EVIL = "https://evil.example"


async def test_cookie_writes_from_another_origin_are_refused(gateway: RunningGateway) -> None:
    await gateway.create_user("csrf-target@example.com")
    async with gateway.login("csrf-target@example.com") as browser:
        attempts = {
            "cross-site": {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
            "sibling-site": {
                "Origin": "https://other.chat.example.com",
                "Sec-Fetch-Site": "same-site",
            },
            "origin-only": {"Origin": EVIL},
            "null-origin": {"Origin": "null"},
            "fetch-site-only": {"Sec-Fetch-Site": "cross-site"},
        }
        refused = {
            name: await browser.post("/api/keys", json={"name": name}, headers=headers)
            for name, headers in attempts.items()
        }
        own = await browser.post(
            "/api/keys",
            json={"name": "own"},
            headers={"Origin": gateway.url, "Sec-Fetch-Site": "same-origin"},
        )
        allowed = await browser.post(
            "/api/keys", json={"name": "allowed"}, headers={"Origin": ALLOWED_ORIGIN}
        )
        reading = await browser.get("/api/keys", headers={"Sec-Fetch-Site": "cross-site"})
        listed = (await browser.get("/api/keys")).json()["data"]
    for name, response in refused.items():
        assert response.status_code == 403, (name, response.text)
        assert response.json()["error"]["code"] == "cross_origin_refused"
    assert own.status_code == allowed.status_code == 201
    assert reading.status_code == 200  # reads change nothing (CORS keeps the answer)
    assert sorted(k["name"] for k in listed) == ["allowed", "own"]


async def test_a_bearer_token_is_not_subject_to_the_origin_check(gateway: RunningGateway) -> None:
    """A page cannot send someone's bearer token without already having it."""
    async with gateway.client() as program:
        response = await program.post(
            "/v1/chat/completions",
            json=chat_body("hi", stream=False),
            headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        )
    assert response.status_code == 200


async def test_form_and_text_bodies_are_415_even_with_the_session_cookie(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("form-target@example.com")
    async with gateway.login("form-target@example.com") as browser:
        text = await browser.post(
            "/v1/chat/completions",
            content=httpx.Response(200, json=chat_body("hi", stream=False)).content,
            headers={"Content-Type": "text/plain"},
        )
        form = await browser.post(
            "/v1/chat/completions", data={"model": "fake-model", "messages": "x"}
        )
        conversation = await browser.post(
            "/api/conversations", content=b'{"title": "x"}', headers={"Content-Type": "text/plain"}
        )
        listed = (await browser.get("/api/conversations")).json()["data"]
    for response in (text, form, conversation):
        assert response.status_code == 415, response.text
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert listed == []
