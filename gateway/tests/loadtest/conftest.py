"""The scripted fake upstream (tests/fakes/upstream.py) alone, as the server under load."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import FAKE_UPSTREAM
from tests.utils.gateway import free_port


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[str]:
    """Its base URL, `http://127.0.0.1:<port>/v1`."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(FAKE_UPSTREAM), "--port", str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
