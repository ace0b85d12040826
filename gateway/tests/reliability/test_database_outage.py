"""The gateway on PostgreSQL through a connection that is cut and restored: a database
restart as the gateway sees it. Usage rows written while it is away must wait, not vanish."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gpuchat.db.models import UsageRow
from tests.conftest import POSTGRES_URL, fake_profiles_yaml
from tests.utils.gateway import RunningGateway, start_gateway
from tests.utils.tcp_proxy import tcp_proxy


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


async def test_usage_rows_recorded_while_postgres_is_away_are_written_when_it_is_back(
    tmp_path: Path,
) -> None:
    url = make_url(POSTGRES_URL)
    async with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        profiles = tmp_path / "profiles.yaml"
        profiles.write_text(fake_profiles_yaml())
        database = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with start_gateway(
            data_dir=tmp_path, database_url=database, profiles=profiles, auth_cache_seconds=300
        ) as gateway:
            before = await _rows(gateway)
            assert await _ask(gateway, 2) == [200, 200]
            await gateway.state.usage.flush()
            assert await _rows(gateway) == before + 2

            await proxy.cut()
            assert await _ask(gateway, 2) == [200, 200]
            await asyncio.sleep(3)
            async with gateway.client() as client:
                metrics = (await client.get("/metrics")).text
            assert "gpuchat_usage_rows_pending 2.0" in metrics
            await proxy.restore()
            assert await _ask(gateway, 3) == [200, 200, 200]
            await gateway.state.usage.flush(wait_seconds=15)
            assert await _rows(gateway) == before + 7
