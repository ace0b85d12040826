"""Conversations: ownership (404 everywhere), literal search, paging, rename/pin, export."""

from __future__ import annotations

import json

import pytest

from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway


async def _conversation_of(gateway: RunningGateway, email: str, text: str) -> int:
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        result = await chat(browser, {"content": text})
    cid: int = result.one("start")["conversation_id"]
    return cid


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/conversations/{id}", None),
        ("GET", "/api/conversations/{id}?all=true", None),
        ("PATCH", "/api/conversations/{id}", {"title": "mine now"}),
        ("DELETE", "/api/conversations/{id}", None),
        ("GET", "/api/conversations/{id}/export", None),
        ("GET", "/api/conversations/{id}/export?format=markdown", None),
        ("POST", "/api/chat", {"conversation_id": "{id}", "content": "what did they say?"}),
        ("POST", "/api/chat", {"conversation_id": "{id}", "regenerate": True}),
    ],
)
async def test_another_users_conversation_is_404_everywhere(
    gateway: RunningGateway, method: str, path: str, body: dict[str, object] | None
) -> None:
    cid = await _conversation_of(gateway, "victim@example.com", "my secret plan")
    await gateway.create_user("snoop@example.com")
    if body is not None:
        body = {k: (cid if v == "{id}" else v) for k, v in body.items()}
    async with gateway.login("snoop@example.com") as snoop:
        response = await snoop.request(method, path.format(id=cid), json=body)
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"
        assert "secret" not in response.text
        search = (await snoop.get("/api/conversations", params={"q": "secret"})).json()
    assert search["data"] == []
    async with gateway.login("victim@example.com") as victim:
        detail = (await victim.get(f"/api/conversations/{cid}")).json()
    assert detail["messages"][0]["content"] == "my secret plan"
    assert detail["title"] != "mine now"


async def test_search_is_literal_and_covers_titles_and_messages(gateway: RunningGateway) -> None:
    await gateway.create_user("searcher@example.com")
    texts = [
        "100% sure",
        "snake_case name",
        'it\'s "quoted"',
        "1000 percent",
        "snakeXcase",
        "back\\slash",
    ]
    async with gateway.login("searcher@example.com") as browser:
        for text in texts:
            await browser.post("/api/conversations", json={"title": f"t: {text}"})
        await chat(browser, {"content": "body mentions 50%_off deal"})

        async def titles(q: str) -> list[str]:
            data = (await browser.get("/api/conversations", params={"q": q})).json()["data"]
            return [c["title"] for c in data]

        assert await titles("100%") == ["t: 100% sure"]
        percent = await titles("%")  # the 100% title and the chat whose message has a %
        assert len(percent) == 2 and "t: 100% sure" in percent
        assert await titles("snake_case") == ["t: snake_case name"]
        assert await titles('it\'s "quoted"') == ['t: it\'s "quoted"']
        assert await titles("back\\slash") == ["t: back\\slash"]
        assert len(await titles("50%_off")) == 1  # found in a message, not the title


async def test_list_pages_with_cursor_and_pins_first(gateway: RunningGateway) -> None:
    await gateway.create_user("pager@example.com")
    async with gateway.login("pager@example.com") as browser:
        ids = [
            (await browser.post("/api/conversations", json={"title": f"c{n}"})).json()["id"]
            for n in range(7)
        ]
        pinned = await browser.patch(f"/api/conversations/{ids[0]}", json={"pinned": True})
        assert pinned.json()["pinned"] is True
        seen: list[int] = []
        before = None
        while True:
            params = {"limit": 3, **({"before": before} if before else {})}
            page = (await browser.get("/api/conversations", params=params)).json()
            seen += [c["id"] for c in page["data"]]
            before = page["next_before"]
            if before is None:
                break
        bad = await browser.get("/api/conversations", params={"before": "garbage"})
    assert seen[0] == ids[0]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert bad.status_code == 422


async def test_rename_delete_and_export(gateway: RunningGateway) -> None:
    cid = await _conversation_of(gateway, "exporter@example.com", "export me <b>now</b>")
    async with gateway.login("exporter@example.com") as browser:
        renamed = await browser.patch(
            f"/api/conversations/{cid}", json={"title": '../../etc/passwd "x"\r\n'}
        )
        assert renamed.json()["title"] == '../../etc/passwd "x"\r\n'
        as_json = await browser.get(f"/api/conversations/{cid}/export")
        as_md = await browser.get(f"/api/conversations/{cid}/export", params={"format": "markdown"})
        assert (await browser.delete(f"/api/conversations/{cid}")).status_code == 204
        assert (await browser.get(f"/api/conversations/{cid}")).status_code == 404
    disposition = as_json.headers["content-disposition"]
    assert disposition == f'attachment; filename="etc-passwd-x-{cid}.json"'
    exported = json.loads(as_json.text)
    assert [m["content"] for m in exported["messages"]] == [
        "export me <b>now</b>",
        "echo: export me <b>now</b>",
    ]
    assert as_md.headers["content-type"].startswith("text/markdown")
    assert "## User\n\nexport me <b>now</b>" in as_md.text
