"""The web chat: turns persist exactly, stop and failures leave the right message, titles."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from gpuchat.db.models import Conversation, Message, UsageRow, User
from tests.utils.chat import ChatEvents, chat
from tests.utils.gateway import RunningGateway


async def upstream_body(gateway: RunningGateway, result: ChatEvents) -> dict[str, Any]:
    """What the engine received for this turn (the fake records it by request id)."""
    request_id = result.one("start")["request_id"]
    async with httpx.AsyncClient(base_url=await gateway.upstream_url()) as fake:
        body: dict[str, Any] = (await fake.get(f"/_requests/{request_id}")).json()["body"]
    return body


async def conversation(client: httpx.AsyncClient, conversation_id: int) -> dict[str, object]:
    response = await client.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def test_chat_two_turns_persist_exactly_and_carry_history(gateway: RunningGateway) -> None:
    await gateway.create_user("talker@example.com")
    async with gateway.login("talker@example.com") as browser:
        first = await chat(
            browser, {"content": "안녕 first question", "system_prompt": "Be brief."}
        )
        assert first.status == 200
        assert first.kinds[0] == "start" and first.kinds[-2:] == ["done", "title"]
        start = first.one("start")
        cid = start["conversation_id"]
        assert first.text == "echo: 안녕 first question"
        assert first.one("done")["status"] == "complete"
        second = await chat(browser, {"conversation_id": cid, "content": "second"})
        assert second.text == "echo: second" and "title" not in second.kinds
        sent = await upstream_body(gateway, second)
        detail = await conversation(browser, cid)
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "안녕 first question"},
        {"role": "assistant", "content": "echo: 안녕 first question"},
        {"role": "user", "content": "second"},
    ]
    messages = detail["messages"]
    assert isinstance(messages, list)
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "안녕 first question", "complete"),
        ("assistant", "echo: 안녕 first question", "complete"),
        ("user", "second", "complete"),
        ("assistant", "echo: second", "complete"),
    ]
    answer = messages[3]
    assert answer["id"] == second.one("done")["assistant_message_id"]
    assert answer["token_out"] == 2 and answer["ttft_ms"] is not None
    assert detail["title"] == first.one("title")["title"] != ""
    usage = second.one("usage")
    assert usage["output_tokens"] == 2 and usage["input_tokens"] > 0


async def test_chat_user_defaults_apply_when_request_is_silent(gateway: RunningGateway) -> None:
    await gateway.create_user("defaults@example.com")
    async with gateway.login("defaults@example.com") as browser:
        await browser.patch(
            "/api/me/settings",
            json={"system_prompt": "항상 한국어로.", "temperature": 0.25, "max_tokens": 77},
        )
        result = await chat(browser, {"content": "hi"})
    assert result.one("done")["status"] == "complete"
    sent = await upstream_body(gateway, result)
    assert sent["messages"][0] == {"role": "system", "content": "항상 한국어로."}
    assert sent["temperature"] == 0.25 and sent["max_tokens"] == 77


async def _stored(gateway: RunningGateway, message_id: int) -> Message:
    await gateway.state.answers.flush()
    async with gateway.state.sessions() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message


async def test_chat_stop_endpoint_keeps_exactly_the_streamed_text(gateway: RunningGateway) -> None:
    await gateway.create_user("stopper@example.com")
    stopped: list[int] = []
    async with (
        gateway.login("stopper@example.com") as browser,
        gateway.login("stopper@example.com") as other_tab,
        gateway.client() as admin_key,
    ):

        async def stop_from_other_tab(events: ChatEvents) -> None:
            if len(events.of("delta")) >= 3 and not stopped:
                request_id = events.one("start")["request_id"]
                stranger = await admin_key.post(f"/api/chat/{request_id}/stop")
                assert stranger.status_code == 404  # not the stranger's turn to stop
                response = await other_tab.post(f"/api/chat/{request_id}/stop")
                stopped.append(response.status_code)

        result = await chat(
            browser, {"content": "!tokens 200 !gap 0.05"}, on_events=stop_from_other_tab
        )
    assert stopped == [204]
    assert result.one("done")["status"] == "interrupted"
    assert "error" not in result.kinds
    message = await _stored(gateway, result.one("done")["assistant_message_id"])
    assert message.status == "interrupted"
    assert message.content == result.text
    assert 0 < len(result.text) < len(" ".join(f"t{i}" for i in range(200)))
    await gateway.state.usage.flush()
    async with gateway.state.sessions() as session:
        row = await session.scalar(
            select(UsageRow).where(UsageRow.request_id == result.one("start")["request_id"])
        )
    assert row is not None and row.client == "web"


async def test_chat_disconnect_leaves_interrupted_message_with_streamed_text(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("leaver2@example.com")
    async with gateway.login("leaver2@example.com") as browser:
        result = await chat(browser, {"content": "!tokens 300 !gap 0.03"}, stop_after_deltas=5)
        cid = result.one("start")["conversation_id"]
        await asyncio.sleep(0.5)
        await gateway.state.answers.flush()
        detail = await conversation(browser, cid)
    messages = detail["messages"]
    assert isinstance(messages, list)
    answer = messages[-1]
    assert answer["role"] == "assistant" and answer["status"] == "interrupted"
    assert answer["content"].startswith(result.text)
    assert len(answer["content"]) < len(" ".join(f"t{i}" for i in range(300)))


async def test_chat_upstream_failure_stores_error_and_conversation_stays_usable(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("unlucky@example.com")
    async with gateway.login("unlucky@example.com") as browser:
        broken = await chat(browser, {"content": "!die 3 !tokens 10"})
        cid = broken.one("start")["conversation_id"]
        refused = await chat(browser, {"conversation_id": cid, "content": "!fail 500"})
        fine = await chat(browser, {"conversation_id": cid, "content": "after"})
        detail = await conversation(browser, cid)
    assert broken.text == "t0 t1 t2"
    assert broken.one("done")["status"] == "error"
    assert broken.one("error")["error"]["code"] == "upstream_broken"
    assert refused.one("done")["status"] == "error"
    assert refused.one("error")["error"]["code"] == "upstream_error"
    assert fine.one("done")["status"] == "complete" and fine.text == "echo: after"
    messages = detail["messages"]
    assert [(m["role"], m["status"], m["content"]) for m in messages] == [
        ("user", "complete", "!die 3 !tokens 10"),
        ("assistant", "error", "t0 t1 t2"),
        ("user", "complete", "!fail 500"),
        ("assistant", "error", ""),
        ("user", "complete", "after"),
        ("assistant", "complete", "echo: after"),
    ]
    sent = await upstream_body(gateway, fine)
    # The failed, empty answer is left out of the prompt; the partial one is kept.
    assert [m["content"] for m in sent["messages"]] == [
        "!die 3 !tokens 10",
        "t0 t1 t2",
        "!fail 500",
        "after",
    ]


async def test_chat_title_falls_back_to_first_message_when_the_model_fails(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("titled@example.com")
    question = "Please summarise the quarterly GPU budget !title-fail " + "word " * 30
    async with gateway.login("titled@example.com") as browser:
        result = await chat(browser, {"content": question})
        detail = await conversation(browser, result.one("start")["conversation_id"])
    title = result.one("title")["title"]
    assert title.startswith("Please summarise the quarterly GPU budget") and title.endswith("…")
    assert detail["title"] == title
    assert result.one("done")["status"] == "complete" and "error" not in result.kinds


async def test_chat_regenerate_and_edit_keep_alternatives(gateway: RunningGateway) -> None:
    await gateway.create_user("brancher@example.com")
    async with gateway.login("brancher@example.com") as browser:
        first = await chat(browser, {"content": "one"})
        cid = first.one("start")["conversation_id"]
        question_id = first.one("start")["user_message_id"]
        again = await chat(browser, {"conversation_id": cid, "regenerate": True})
        assert again.one("start")["user_message_id"] == question_id
        edited = await chat(
            browser, {"conversation_id": cid, "edit_message_id": question_id, "content": "uno"}
        )
        active = await conversation(browser, cid)
        everything = (await browser.get(f"/api/conversations/{cid}", params={"all": "true"})).json()
    assert [m["content"] for m in active["messages"]] == ["uno", "echo: uno"]  # type: ignore[union-attr]
    assert [m["content"] for m in everything["messages"]] == [
        "one",
        "echo: one",
        "echo: one",
        "uno",
        "echo: uno",
    ]
    assert edited.one("done")["status"] == "complete"


async def test_chat_refuses_bad_turns_before_streaming(gateway: RunningGateway) -> None:
    await gateway.create_user("careless@example.com")
    async with gateway.login("careless@example.com") as browser:
        empty = await chat(browser, {"content": "   "})
        nul = await chat(browser, {"content": "a\x00b"})
        unknown = await chat(browser, {"content": "hi", "model": "no-such-model"})
        nothing = await chat(browser, {"regenerate": True})
        extra = await chat(browser, {"content": "hi", "user_id": 1})
    assert (empty.status, empty.body["error"]["param"]) == (422, "content")  # type: ignore[index]
    assert (nul.status, nul.body["error"]["param"]) == (422, "content")  # type: ignore[index]
    assert (unknown.status, unknown.body["error"]["code"]) == (404, "model_not_found")  # type: ignore[index]
    assert nothing.status == 422
    assert extra.status == 422
    async with gateway.login("careless@example.com") as browser:
        listed = (await browser.get("/api/conversations")).json()["data"]
    assert listed == []  # a refused turn leaves nothing behind


async def test_chat_fifty_concurrent_turns_are_all_stored(gateway: RunningGateway) -> None:
    await gateway.create_user("crowd@example.com")
    async with gateway.login("crowd@example.com") as browser:
        results = await asyncio.gather(
            *(chat(browser, {"content": f"!tokens 8 !gap 0.01 !n{n}"}) for n in range(50))
        )
    assert all(r.one("done")["status"] == "complete" for r in results), [
        r.events[-3:] for r in results if r.of("done") and r.one("done")["status"] != "complete"
    ]
    # On a loaded machine `done` may go out before the answer's row is written (without its
    # id, after DONE_WAITS_FOR_STORE_S): the row still comes, a little later.
    answers = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(User, User.id == Conversation.user_id)
        .where(User.email == "crowd@example.com", Message.role == "assistant")
    )
    for _ in range(300):
        async with gateway.state.sessions() as session:
            stored = (await session.scalars(answers)).all()
        if len(stored) >= 50:
            break
        await asyncio.sleep(0.1)
    assert len(stored) == 50
    assert all(m.content == "t0 t1 t2 t3 t4 t5 t6 t7" and m.status == "complete" for m in stored)


async def test_a_reasoning_models_thinking_streams_apart_is_stored_and_never_sent_back(
    gateway: RunningGateway,
) -> None:
    """vLLM's reasoning parser sends the thinking as `delta.reasoning`: the web chat shows it
    as `reasoning` events (not in the answer), stores it beside the answer with how long it
    took, and leaves it out of the next turn's prompt."""
    await gateway.create_user("thinker@example.com")
    async with gateway.login("thinker@example.com") as browser:
        first = await chat(browser, {"content": "!think 4 !tokens 3 !gap 0.02"})
        cid = first.one("start")["conversation_id"]
        second = await chat(browser, {"conversation_id": cid, "content": "and then?"})
        sent = await upstream_body(gateway, second)
        detail = await conversation(browser, cid)

    thoughts = "".join(e["text"] for e in first.of("reasoning"))
    assert thoughts == "r0 r1 r2 r3"
    assert first.text == "t0 t1 t2"  # the answer alone
    kinds = [k for k in first.kinds if k in ("reasoning", "delta")]
    assert kinds.index("delta") > max(i for i, k in enumerate(kinds) if k == "reasoning")
    assert first.one("usage")["reasoning_ms"] >= 40  # four thoughts, 20 ms apart
    assert first.one("usage")["output_tokens"] == 7  # thinking is generated tokens too
    messages = detail["messages"]
    assert isinstance(messages, list)
    answer = messages[1]
    assert (answer["content"], answer["reasoning"]) == ("t0 t1 t2", "r0 r1 r2 r3")
    assert answer["reasoning_ms"] == first.one("usage")["reasoning_ms"]
    assert messages[3]["reasoning"] is None  # the fake does not think unless told
    assert {"role": "assistant", "content": "t0 t1 t2"} in sent["messages"]
    assert not any("r0" in str(m["content"]) for m in sent["messages"])


async def test_the_api_passes_a_reasoning_models_thinking_through_unchanged(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as client:
        body = {
            "model": "fake",
            "stream": True,
            "messages": [{"role": "user", "content": "!think 2 !tokens 1"}],
        }
        response = await client.post("/v1/chat/completions", json=body)
    deltas = [
        orjson.loads(line[6:])["choices"][0]["delta"]
        for line in response.text.splitlines()
        if line.startswith("data: {") and '"choices": [{' in line
    ]
    assert [d.get("reasoning") for d in deltas if d.get("reasoning")] == ["r0", " r1"]
    assert [d.get("content") for d in deltas if d.get("content")] == ["t0"]
