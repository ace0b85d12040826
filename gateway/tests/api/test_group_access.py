"""What a user's groups allow: models (refused with 403 on `/v1` and `/api/chat`, hidden
from `/v1/models`) and limits (the most generous group; the user's own limits win), at
once after any change, also for an API key the gateway has cached."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from gpuchat.core.db import session_scope
from gpuchat.db.models import Conversation, UsageRow
from gpuchat.services.accounts.groups import set_user_groups
from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway
from tests.utils.groups import fresh_email, new_group, user_id
from tests.utils.streams import chat_body


def refused_model(response: httpx.Response) -> bool:
    return response.status_code == 403 and refused_model_body(response.json())


def refused_model_body(body: dict[str, Any]) -> bool:
    """The `/v1` envelope of a model the caller may not use (the web chat sends the same)."""
    return (
        body["error"]["code"] == "model_not_allowed"
        and body["error"]["param"] == "model"
        and body["error"]["type"] == "permission_error"
        and body["source"] == "gateway"
    )


async def ask(client: httpx.AsyncClient, model: str = "fake-model") -> httpx.Response:
    return await client.post(
        "/v1/chat/completions", json=chat_body("hi", stream=False, model=model)
    )


async def model_ids(client: httpx.AsyncClient) -> set[str]:
    return {m["id"] for m in (await client.get("/v1/models")).json()["data"]}


async def conversations_of(gateway: RunningGateway, email: str) -> int:
    uid = await user_id(gateway, email)
    async with gateway.state.sessions() as session:
        statement = select(func.count()).where(Conversation.user_id == uid)
        return await session.scalar(statement) or 0


async def test_a_group_limits_the_models_on_the_api_and_the_web_chat(
    gateway: RunningGateway,
) -> None:
    email = fresh_email()
    await new_group(gateway, models=["fake-model"], members=(email,))
    key = await gateway.new_key(email)
    async with gateway.client(key) as program, gateway.login(email) as browser:
        allowed = await ask(program, "fake")  # the profile named by another of its names
        refused = await ask(program, "unreachable")
        listed = await model_ids(program)
        web = await chat(browser, {"content": "hello", "model": "unreachable"})
        web_ok = await chat(browser, {"content": "hello", "model": "default"})
    assert allowed.status_code == 200
    assert refused_model(refused)
    assert "unreachable" not in listed and {"fake", "fake-model", "default"} <= listed
    assert web.status == 403 and web.body is not None
    assert web.body["error"]["code"] == "model_not_allowed"
    assert web_ok.status == 200 and web_ok.kinds[-1] != "error"
    assert await conversations_of(gateway, email) == 1  # the refused question was not stored


async def test_a_forbidden_model_on_the_web_chat_is_refused_before_any_limit_counts(
    gateway: RunningGateway,
) -> None:
    """The web chat checks the model first, as `/v1` does: refusals spend no limit."""
    email = fresh_email()
    limits = {"requests_per_minute": 2, "requests_per_day": 2}
    await new_group(gateway, models=["fake-model"], limits=limits, members=(email,))
    async with gateway.login(email) as browser:
        refused = [await chat(browser, {"content": "hi", "model": "unreachable"}) for _ in range(4)]
        allowed = await chat(browser, {"content": "hello", "model": "fake-model"})
    assert [r.status for r in refused] == [403] * 4
    assert all(r.body is not None and refused_model_body(r.body) for r in refused)
    assert allowed.status == 200 and allowed.kinds[-1] != "error"


async def test_a_new_web_chat_without_a_model_starts_on_one_the_groups_allow(
    gateway: RunningGateway,
) -> None:
    """The active model (`default`) is not theirs: the chat starts on their first model
    instead of refusing; someone the groups do not restrict stays on the default."""
    narrow, free = fresh_email(), fresh_email()
    await new_group(gateway, models=["unreachable"], members=(narrow,))
    await gateway.create_user(free)
    async with gateway.login(narrow) as browser:
        listed = await model_ids(browser)
        started = await chat(browser, {"content": "hello"})
        named = await chat(browser, {"content": "hello", "model": "default"})
    async with gateway.login(free) as browser:
        unrestricted = await chat(browser, {"content": "hello"})
    assert listed == {"unreachable"}
    assert started.status == 200, started.body
    assert started.one("start")["model"] == "unreachable"
    assert await conversation_models(gateway, narrow) == ["unreachable"]
    assert named.status == 403 and named.body is not None  # a model they name: refused
    assert refused_model_body(named.body)
    assert unrestricted.status == 200
    assert await conversation_models(gateway, free) == ["default"]


async def conversation_models(gateway: RunningGateway, email: str) -> list[str]:
    uid = await user_id(gateway, email)
    async with gateway.state.sessions() as session:
        statement = select(Conversation.model).where(Conversation.user_id == uid)
        return list((await session.scalars(statement)).all())


async def test_a_group_that_names_no_model_allows_every_model(gateway: RunningGateway) -> None:
    narrow, wide = fresh_email(), fresh_email()
    await new_group(gateway, models=["fake"], members=(narrow, wide))
    await new_group(gateway, models=[], members=(wide,))
    async with (
        gateway.client(await gateway.new_key(narrow)) as narrow_client,
        gateway.client(await gateway.new_key(wide)) as wide_client,
        gateway.client() as admin,  # in no group
    ):
        everything = await model_ids(admin)
        assert "unreachable" in everything
        assert await model_ids(wide_client) == everything
        assert "unreachable" not in await model_ids(narrow_client)


async def test_group_changes_reach_a_cached_api_key_at_once(gateway: RunningGateway) -> None:
    email = fresh_email()
    member = await user_id(gateway, email)
    key = await gateway.new_key(email)
    group = await new_group(gateway, models=["unreachable"])
    path = f"/api/admin/groups/{group['id']}"
    async with gateway.client(key) as program, gateway.client() as admin:
        assert (await ask(program)).status_code == 200  # the key's caller is now cached
        assert (await admin.put(f"{path}/members/{member}")).status_code == 204
        assert refused_model(await ask(program))
        assert (await admin.patch(path, json={"models": ["fake", "unreachable"]})).is_success
        assert (await ask(program)).status_code == 200
        assert (await admin.patch(path, json={"models": ["unreachable"]})).is_success
        assert refused_model(await ask(program))
        assert (await admin.delete(f"{path}/members/{member}")).status_code == 204
        assert (await ask(program)).status_code == 200
        assert (await admin.put(f"{path}/members/{member}")).status_code == 204
        assert refused_model(await ask(program))
        assert (await admin.delete(path)).status_code == 204
        assert (await ask(program)).status_code == 200


async def test_a_group_quota_counts_and_the_users_own_limit_wins(gateway: RunningGateway) -> None:
    plain, overridden = fresh_email(), fresh_email()
    await gateway.create_user(overridden, limits={"requests_per_day": 3})
    await new_group(gateway, limits={"requests_per_day": 1}, members=(plain, overridden))
    async with (
        gateway.client(await gateway.new_key(plain)) as plain_client,
        gateway.client(await gateway.new_key(overridden)) as own_client,
        gateway.login(plain) as browser,
    ):
        assert (await ask(plain_client)).status_code == 200
        refused = await ask(plain_client)
        web = await chat(browser, {"content": "hello"})  # the web chat counts together
        own = [(await ask(own_client)).status_code for _ in range(4)]
        shown = [
            (await c.get("/api/me/quota")).json()["limits"]["requests_per_day"]
            for c in (plain_client, own_client)
        ]
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 86_400
    assert web.status == 429
    assert own == [200, 200, 200, 429]
    assert shown == [1, 3]  # "my quota" shows the limits that apply


async def test_in_several_groups_the_most_generous_limit_applies(gateway: RunningGateway) -> None:
    two_limits, limit_and_open = fresh_email(), fresh_email()
    await new_group(
        gateway, limits={"requests_per_minute": 1}, members=(two_limits, limit_and_open)
    )
    await new_group(gateway, limits={"requests_per_minute": 2}, members=(two_limits,))
    # A group that sets no limit gives the default: here none at all.
    await new_group(gateway, limits={"tokens_per_day": 5}, members=(limit_and_open,))
    async with (
        gateway.client(await gateway.new_key(two_limits)) as first,
        gateway.client(await gateway.new_key(limit_and_open)) as second,
    ):
        assert [(await ask(first)).status_code for _ in range(3)] == [200, 200, 429]
        assert [(await ask(second)).status_code for _ in range(3)] == [200, 200, 200]


async def test_set_user_groups_from_names_ignores_unknown_ones(gateway: RunningGateway) -> None:
    email = fresh_email("sso")
    member = await user_id(gateway, email)
    narrow = await new_group(gateway, models=["fake"])
    other = await new_group(gateway)
    key = await gateway.new_key(email)
    state = gateway.state
    async with gateway.client(key) as program, gateway.client() as admin:
        assert "unreachable" in await model_ids(program)
        names = await set_user_groups(
            state.sessions, state.principals, member, [narrow["name"], "no-such-group", " "]
        )
        assert names == [narrow["name"]]
        assert "unreachable" not in await model_ids(program)  # at once, cache or not
        names = await set_user_groups(state.sessions, state.principals, member, [other["name"]])
        assert names == [other["name"]]
        assert "unreachable" in await model_ids(program)
        listed = (await admin.get("/api/admin/users", params={"q": email})).json()["data"]
        me = (await program.get("/api/me")).json()
        groups = (await admin.get("/api/admin/groups")).json()["data"]
    assert listed[0]["groups"] == me["groups"] == [other["name"]]
    assert not any(g["name"] == "no-such-group" for g in groups)


async def test_a_request_quota_is_seeded_from_stored_requests_but_not_titles(
    gateway: RunningGateway,
) -> None:
    """After a restart the day's stored requests count; a conversation's title does not."""
    email = fresh_email()
    member = await user_id(gateway, email)
    async with session_scope(gateway.state.sessions) as session:
        for client in ("api", "internal", "internal"):
            session.add(
                UsageRow(
                    request_id="seeded-" + secrets.token_hex(6),
                    user_id=member,
                    client=client,
                    model_alias="fake-model",
                    status_code=200,
                    created=datetime.now(UTC),
                )
            )
    await new_group(gateway, limits={"requests_per_day": 2}, members=(email,))
    async with gateway.client(await gateway.new_key(email)) as program:
        assert [(await ask(program)).status_code for _ in range(2)] == [200, 429]
