"""The `gpuchat` command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuchat.commands.app import app
from tests.utils.gateway import free_port


@pytest.mark.parametrize("secret", ["", "too-short"])
def test_supervisor_refuses_a_public_address_without_a_long_secret(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUCHAT_SUPERVISOR_SECRET", secret)

    public = "0.0.0.0"
    result = CliRunner().invoke(app, ["supervisor", "--host", public])

    assert result.exit_code == 2
    assert "GPUCHAT_SUPERVISOR_SECRET must be set" in result.output


def test_serve_refuses_several_workers_each_owning_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUCHAT_WORKERS", "4")
    monkeypatch.delenv("GPUCHAT_SUPERVISOR_URL", raising=False)

    result = CliRunner().invoke(app, ["serve"])

    assert result.exit_code == 2
    assert "GPUCHAT_SUPERVISOR_URL" in result.output


def test_run_with_only_external_engines_needs_no_packaged_model(tmp_path: Path) -> None:
    """`gpuchat run` prepares the packaged models its profiles use, not every one."""
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "default: remote\nprofiles:\n  - name: remote\n    engine: external\n"
        '    urls: ["http://127.0.0.1:9/v1"]\n'
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCHAT_")}
    env |= {
        "GPUCHAT_DATA_DIR": str(tmp_path / "data"),  # no wheels, no models here
        "GPUCHAT_PROFILES": str(profiles),
        "GPUCHAT_PORT": str(port),
    }
    gpuchat = Path(sys.executable).with_name("gpuchat")
    child = subprocess.Popen([str(gpuchat), "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        healthy = False
        while time.monotonic() < deadline and child.poll() is None and not healthy:
            url = f"http://127.0.0.1:{port}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
                healthy = answer.status == 200
            time.sleep(0.2)
        assert healthy, child.stderr.read().decode() if child.poll() is not None else "no answer"
    finally:
        child.terminate()
        child.wait(timeout=30)
