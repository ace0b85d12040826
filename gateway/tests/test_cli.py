"""The `gpuchat` command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gpuchat.cli import app


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
