"""The gateway on PostgreSQL through a connection that is cut and restored: a database
restart as the gateway sees it. Usage rows written while it is away must wait, not vanish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gpuchat.db.models import UsageRow
from tests.conftest import POSTGRES_URL, fake_profiles_yaml
from tests.utils.chat import ChatEvents, chat
from tests.utils.gateway import RunningGateway, start_gateway
from tests.utils.tcp_proxy import Impostor, TcpProxy, tcp_proxy


async def _ask(gateway: RunningGateway, n: int) -> list[int]:
    async with gateway.client() as client:
        statuses = []
        for _ in range(n):
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "fake", "messages": [{"role": "user", "content": "hi"}]},
            )
            statuses.append(response.status_code)
        return statuses


async def _rows(gateway: RunningGateway) -> int:
    async with gateway.state.sessions() as session:
        return (
            await session.execute(sa.select(sa.func.count()).select_from(UsageRow))
        ).scalar_one()


@dataclass
class Outage:
    gateway: RunningGateway
    proxy: TcpProxy  # between the gateway and PostgreSQL: cut() is the database going away


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[Outage]:
    url = make_url(POSTGRES_URL)
    async with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        profiles = tmp_path / "profiles.yaml"
        profiles.write_text(fake_profiles_yaml())
        database = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with start_gateway(
            data_dir=tmp_path, database_url=database, profiles=profiles, auth_cache_seconds=300
        ) as gateway:
            yield Outage(gateway, proxy)


async def test_usage_rows_recorded_while_postgres_is_away_are_written_when_it_is_back(
    outage: Outage,
) -> None:
    gateway, proxy = outage.gateway, outage.proxy
    before = await _rows(gateway)
    assert await _ask(gateway, 2) == [200, 200]
    await gateway.state.usage.flush()
    assert await _rows(gateway) == before + 2

    await proxy.cut()
    assert await _ask(gateway, 2) == [200, 200]  # the key is known: answered, rows wait
    await asyncio.sleep(3)
    async with gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert "gpuchat_usage_rows_pending 2.0" in metrics
    await proxy.restore()
    assert await _ask(gateway, 3) == [200, 200, 200]
    await gateway.state.usage.flush(wait_seconds=15)
    assert await _rows(gateway) == before + 7


async def test_an_answer_that_ends_while_postgres_is_away_is_stored_when_it_is_back(
    outage: Outage,
) -> None:
    gateway, proxy = outage.gateway, outage.proxy
    email = "outage@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:

        async def cut_after_three(events: ChatEvents) -> None:
            if len(events.of("delta")) == 3:
                await proxy.cut()

        turn = await chat(browser, {"content": "!tokens 30 !gap 0.05"}, on_events=cut_after_three)
        refused = await browser.post("/api/chat", json={"content": "hello?"})
        await proxy.restore()
        await asyncio.wait_for(gateway.state.answers.flush(), 30)
        conversation_id = turn.one("start")["conversation_id"]
        stored = (await browser.get(f"/api/conversations/{conversation_id}")).json()

    done = turn.one("done")
    assert done["status"] == "complete"
    assert done["assistant_message_id"] is None  # not stored yet when the stream ended
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "database_unavailable"
    assert refused.headers["retry-after"] == "5"
    answer = stored["messages"][-1]
    assert (answer["role"], answer["status"]) == ("assistant", "complete")
    assert answer["content"] == turn.text


def _postgres_error(sqlstate: str, message: str) -> bytes:
    """A PostgreSQL ErrorResponse message (protocol 3)."""
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + (len(body) + 4).to_bytes(4, "big") + body


_SSL_REQUEST = (80877103).to_bytes(4, "big")


def _postgres_saying(sqlstate: str, message: str) -> Impostor:
    """A PostgreSQL that accepts the connection, declines SSL, reads the startup message
    and answers it with an error, as a server that is starting up or shutting down does."""

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = int.from_bytes(await reader.readexactly(4), "big")
        first = await reader.readexactly(length - 4)
        if first[:4] == _SSL_REQUEST:
            writer.write(b"N")
            length = int.from_bytes(await reader.readexactly(4), "big")
            await reader.readexactly(length - 4)
        writer.write(_postgres_error(sqlstate, message))
        await writer.drain()

    return impostor


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("57P03", "the database system is shutting down"),
        ("57P01", "terminating connection due to administrator command"),
    ],
)
async def test_a_restarting_postgres_is_refused_with_503_not_500(
    outage: Outage, sqlstate: str, message: str
) -> None:
    gateway, proxy = outage.gateway, outage.proxy
    email = "restarting@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        assert (await browser.get("/api/conversations")).status_code == 200
        await proxy.cut()  # the pooled connections die with the old server
        proxy.impostor = _postgres_saying(sqlstate, message)
        await proxy.restore()
        answers = [await browser.get("/api/conversations") for _ in range(3)]
        proxy.impostor = None
        back = await browser.get("/api/conversations")

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "database_unavailable"
        assert answer.headers["retry-after"] == "5"
    assert back.status_code == 200
