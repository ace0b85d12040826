"""`gpuchat run` with two workers, as the shipped compose file runs it: one port, two
processes, each scrape of /metrics answered by either. The totals must be every worker's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import fake_profiles_yaml
from tests.utils import processes
from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, free_port

REQUESTS = 24


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(fake_profiles_yaml())
    port = free_port()
    env = {
        **os.environ,
        "GPUCHAT_DATA_DIR": str(tmp_path),
        "GPUCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "GPUCHAT_PROFILES": str(profiles),
        "GPUCHAT_HOST": "127.0.0.1",
        "GPUCHAT_PORT": str(port),
        "GPUCHAT_SUPERVISOR_PORT": str(free_port()),
        "GPUCHAT_WORKERS": "2",
        "GPUCHAT_ADMIN_EMAIL": ADMIN_EMAIL,
        "GPUCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "GPUCHAT_LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [sys.executable, "-m", "gpuchat", "run"]
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        with httpx.Client(base_url=url, timeout=5) as client:
            while True:
                assert child.poll() is None, "gpuchat run exited"
                assert time.monotonic() < deadline, "the gateway did not get ready"
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
        yield url
    finally:
        processes.stop(child)


def _requests_total(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gpuchat_requests_total" and sample.labels["status"] == "200":
                return sample.value
    return 0.0


async def test_metrics_add_up_every_worker(two_workers: str) -> None:
    async with httpx.AsyncClient(base_url=two_workers, timeout=30) as browser:
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        assert (await browser.post("/api/auth/login", json=login)).status_code == 200
        key = (await browser.post("/api/keys", json={"name": "metrics"})).json()["key"]

    async def ask() -> int:
        # A connection each: the kernel hands new connections to either worker.
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=two_workers, headers=headers) as client:
            body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
            return (await client.post("/v1/chat/completions", json=body)).status_code

    statuses = [await ask() for _ in range(REQUESTS)]
    assert statuses == [200] * REQUESTS

    totals = []
    for _ in range(8):
        async with httpx.AsyncClient(base_url=two_workers) as scraper:
            totals.append(_requests_total((await scraper.get("/metrics")).text))
    assert totals == [REQUESTS] * 8
