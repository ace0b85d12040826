"""Out-of-range and malformed input is a 4xx naming the field, never a 500, on SQLite and
PostgreSQL alike (QUALITY.md: Input)."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.gateway import RunningGateway


def assert_4xx(response: httpx.Response, param: str | None = None) -> None:
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("to=9999-12-31", "to"),
        ("to=9999-12-31T23:59:59", "to"),
        ("from=0001-01-01", "from"),
        ("from=not-a-date", "from"),
    ],
)
async def test_usage_ranges_beyond_what_is_stored_are_422(
    gateway: RunningGateway, query: str, param: str
) -> None:
    async with gateway.client() as client:
        mine = await client.get(f"/api/me/usage?{query}")
        everyone = await client.get(f"/api/admin/usage?{query}")
    assert_4xx(mine, param)
    assert_4xx(everyone, param)


async def test_usage_filters_by_ids_beyond_the_database_match_nothing(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as client:
        for query in ("user=99999999999999999999", "key=99999999999999999999"):
            response = await client.get(f"/api/admin/usage?{query}")
            assert response.status_code == 200, response.text
            assert response.json()["totals"]["requests"] == 0


@pytest.mark.parametrize(
    "cursor",
    [
        "1~9999-12-31T23:59:59+00:00~1",
        "0~2024-01-01T00:00:00+00:00~99999999999999999999",
        "0~2024-01-01T00:00:00+00:00~-5",
        "7~2024-01-01T00:00:00+00:00~1",
        "0~0001-01-01T00:00:00~1",
        "x~y",
        "~~",
    ],
)
async def test_malformed_conversation_cursors_are_422(gateway: RunningGateway, cursor: str) -> None:
    async with gateway.client() as client:
        response = await client.get("/api/conversations", params={"before": cursor})
    assert_4xx(response, "before")


async def test_nul_characters_in_text_fields_are_refused_everywhere(
    gateway: RunningGateway,
) -> None:
    """PostgreSQL cannot store NUL: every text field refuses it on both databases alike."""
    await gateway.create_user("nul@example.com")
    async with gateway.login("nul@example.com") as browser, gateway.client() as admin:
        attempts = {
            "title": await browser.post("/api/conversations", json={"title": "a\x00b"}),
            "system_prompt": await browser.patch(
                "/api/me/settings", json={"system_prompt": "x\x00"}
            ),
            "name": await browser.post("/api/keys", json={"name": "k\x00"}),
            "content": await browser.post("/api/chat", json={"content": "hi\x00"}),
            "words": await admin.put("/api/admin/filters", json={"words": ["w\x00"]}),
            "email": await admin.post(
                "/api/admin/users", json={"email": "a\x00@example.com", "role": "user"}
            ),
        }
        search = await browser.get("/api/conversations", params={"q": "a\x00b"})
        listed = (await browser.get("/api/conversations")).json()["data"]
    for field, response in attempts.items():
        assert_4xx(response)
        assert (response.json()["error"]["param"] or "").split(".")[0] == field, response.text
    assert_4xx(search)
    assert listed == []
