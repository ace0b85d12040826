"""Feedback on answers: the owner's thumbs up or down and comment, shown back in the thread;
nobody else's ids, no API key, no cross-site cookie write, no user message, no huge comment."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway


def _path(cid: int, mid: int) -> str:
    return f"/api/conversations/{cid}/messages/{mid}/feedback"


async def _turn(browser: httpx.AsyncClient, text: str) -> tuple[int, int, int]:
    """(conversation id, question id, answer id) of one finished turn."""
    result = await chat(browser, {"content": text})
    start, done = result.one("start"), result.one("done")
    assert done["assistant_message_id"] is not None
    return start["conversation_id"], start["user_message_id"], done["assistant_message_id"]


async def _shown(browser: httpx.AsyncClient, cid: int) -> dict[int, object]:
    detail = (await browser.get(f"/api/conversations/{cid}")).json()
    return {m["id"]: m["feedback"] for m in detail["messages"]}


async def test_feedback_is_created_changed_shown_and_removed(gateway: RunningGateway) -> None:
    email = f"rater-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        cid, question, answer = await _turn(browser, "rate me")
        first = await browser.put(_path(cid, answer), json={"rating": "up"})
        changed = await browser.put(
            _path(cid, answer), json={"rating": "down", "comment": "wrong: 2+2 is 4 ✓"}
        )
        after_change = await _shown(browser, cid)
        removed = await browser.delete(_path(cid, answer))
        removed_again = await browser.delete(_path(cid, answer))
        after_remove = await _shown(browser, cid)
    assert first.status_code == 201
    assert first.json()["rating"] == "up" and first.json()["comment"] == ""
    assert changed.status_code == 200
    assert changed.json()["created"] == first.json()["created"]
    shown = after_change[answer]
    assert isinstance(shown, dict)
    assert (shown["rating"], shown["comment"]) == ("down", "wrong: 2+2 is 4 ✓")
    assert after_change[question] is None
    assert removed.status_code == removed_again.status_code == 204
    assert after_remove[answer] is None


async def test_another_users_ids_are_404_and_change_nothing(gateway: RunningGateway) -> None:
    victim, snoop = (f"{n}-{secrets.token_hex(4)}@example.com" for n in ("victim", "snoop"))
    await gateway.create_user(victim)
    await gateway.create_user(snoop)
    async with gateway.login(victim) as owner:
        cid, _, answer = await _turn(owner, "my answer")
        await owner.put(_path(cid, answer), json={"rating": "up", "comment": "mine"})
    async with gateway.login(snoop) as other:
        own_cid, _, own_answer = await _turn(other, "their own")
        attempts = [
            await other.put(_path(cid, answer), json={"rating": "down"}),
            await other.delete(_path(cid, answer)),
            # their own conversation, with the victim's message id in it
            await other.put(_path(own_cid, answer), json={"rating": "down"}),
            await other.delete(_path(own_cid, answer)),
            # the victim's conversation, with their own message id
            await other.put(_path(cid, own_answer), json={"rating": "down"}),
            await other.put(_path(own_cid, 2_147_483_000), json={"rating": "down"}),
        ]
    for response in attempts:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "not_found_error"
        assert "mine" not in response.text
    async with gateway.login(victim) as owner:
        kept = (await _shown(owner, cid))[answer]
    assert isinstance(kept, dict) and (kept["rating"], kept["comment"]) == ("up", "mine")


async def test_a_question_a_huge_comment_and_a_bad_rating_are_422(
    gateway: RunningGateway,
) -> None:
    email = f"rater-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        cid, question, answer = await _turn(browser, "a question")
        on_question = await browser.put(_path(cid, question), json={"rating": "up"})
        huge = await browser.put(_path(cid, answer), json={"rating": "down", "comment": "x" * 2001})
        longest = await browser.put(
            _path(cid, answer), json={"rating": "down", "comment": "y" * 2000}
        )
        bad = [
            await browser.put(_path(cid, answer), json={"rating": "meh"}),
            await browser.put(_path(cid, answer), json={"comment": "no rating"}),
            await browser.put(_path(cid, answer), json={"rating": "up", "comment": "a\x00b"}),
            await browser.put(_path(cid, answer), json={"rating": "up", "user_id": 1}),
        ]
        shown = await _shown(browser, cid)
    assert on_question.status_code == 422
    assert on_question.json()["error"]["code"] == "not_an_answer"
    assert huge.status_code == 422 and huge.json()["error"]["param"] == "comment"
    assert longest.status_code == 201
    assert [r.status_code for r in bad] == [422, 422, 422, 422]
    kept = shown[answer]
    assert isinstance(kept, dict) and kept["comment"] == "y" * 2000


async def test_an_api_key_and_a_cross_site_cookie_cannot_give_feedback(
    gateway: RunningGateway,
) -> None:
    email = f"rater-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    key = await gateway.new_key(email)
    async with gateway.login(email) as browser:
        cid, _, answer = await _turn(browser, "who may rate this")
        cross_site = await browser.put(
            _path(cid, answer),
            json={"rating": "down"},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
    async with gateway.client(key) as program:
        by_key = await program.put(_path(cid, answer), json={"rating": "down"})
        key_delete = await program.delete(_path(cid, answer))
        readable = await program.get(f"/api/conversations/{cid}")
    assert cross_site.status_code == 403
    assert cross_site.json()["error"]["code"] == "cross_origin_refused"
    assert by_key.status_code == key_delete.status_code == 403
    assert by_key.json()["error"]["code"] == "session_required"
    assert readable.json()["messages"][-1]["feedback"] is None


async def test_deleting_the_conversation_deletes_its_feedback(gateway: RunningGateway) -> None:
    email = f"rater-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        cid, _, answer = await _turn(browser, "short lived")
        await browser.put(_path(cid, answer), json={"rating": "down", "comment": "gone soon"})
        deleted = await browser.delete(f"/api/conversations/{cid}")
    async with gateway.client() as admin:
        listed = (await admin.get("/api/admin/feedback", params={"limit": 200})).json()
    assert deleted.status_code == 204
    assert all(row["message_id"] != answer for row in listed["data"])


async def test_feedback_sent_at_once_ends_as_one_row(gateway: RunningGateway) -> None:
    email = f"rater-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        cid, _, answer = await _turn(browser, "clicked many times")
        responses = await asyncio.gather(
            *(
                browser.put(_path(cid, answer), json={"rating": "down", "comment": str(n)})
                for n in range(6)
            )
        )
    async with gateway.client() as admin:
        listed = (await admin.get("/api/admin/feedback", params={"limit": 200})).json()
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert [row["message_id"] for row in listed["data"]].count(answer) == 1
