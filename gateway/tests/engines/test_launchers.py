"""Launch plans and the engine log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gpuchat.core.notices import Notice
from gpuchat.engines.launchers import (
    ChildProcess,
    EngineLog,
    LaunchUnavailable,
    plan_launch,
    unavailable_reason,
)
from gpuchat.engines.profiles import Profile


def test_command_plan_substitutes_the_port_in_an_argv(tmp_path: Path) -> None:
    profile = Profile.model_validate(
        {
            "name": "tool",
            "engine": "command",
            "command": ["python", "-m", "some.server", "--port={port}", "--x", "a b; rm -rf /"],
            "health": "/healthz",
        }
    )

    plan = plan_launch(profile, models_dir=tmp_path)

    assert plan.argv is not None
    assert plan.port is not None
    assert plan.argv == (
        sys.executable,
        "-m",
        "some.server",
        f"--port={plan.port}",
        "--x",
        "a b; rm -rf /",
    )
    assert plan.health_url == f"http://127.0.0.1:{plan.port}/healthz"
    assert plan.base_urls == (f"http://127.0.0.1:{plan.port}/v1",)


def test_llamacpp_plan_runs_the_embedded_server_on_loopback(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    profile = Profile.model_validate(
        {"name": "local", "engine": "llamacpp", "model": str(model), "llamacpp": {"ctx": 2048}}
    )

    plan = plan_launch(profile, models_dir=tmp_path)

    assert plan.argv is not None
    assert plan.argv[:3] == (sys.executable, "-m", "gpuchat.engines.llamacpp_server")
    args = dict(zip(plan.argv[3::2], plan.argv[4::2], strict=True))
    assert args["--model"] == str(model)
    assert args["--port"] == str(plan.port)
    assert args["--ctx"] == "2048"
    assert args["--alias"] == plan.model == "local"
    assert plan.health_url == f"http://127.0.0.1:{plan.port}/health"


def test_missing_command_is_unavailable(tmp_path: Path) -> None:
    profile = Profile.model_validate(
        {"name": "tool", "engine": "command", "command": ["no-such-engine-binary", "{port}"]}
    )

    reason = unavailable_reason(profile, models_dir=tmp_path)
    assert reason == Notice(
        "command_not_found",
        "command 'no-such-engine-binary' is not on PATH",
        {"command": "no-such-engine-binary"},
    )
    with pytest.raises(LaunchUnavailable):
        plan_launch(profile, models_dir=tmp_path)


def test_engine_log_keeps_the_last_lines_and_rotates_by_size(tmp_path: Path) -> None:
    log = EngineLog(tmp_path / "e.log", max_bytes=1000)
    log.open()
    for n in range(400):  # about 3.5 kB
        log.write(f"line {n}\n".encode())
    log.write(b"partial")
    log.close()

    tail = log.tail().splitlines()
    assert tail[-2:] == ["line 399", "partial"]
    assert len(tail) == 50
    assert (tmp_path / "e.log.3").exists()
    assert not (tmp_path / "e.log.4").exists()
    assert (tmp_path / "e.log").stat().st_size <= 1000
    assert "line 399" in (tmp_path / "e.log").read_text()


async def test_an_engine_starts_without_the_gateways_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `trust_remote_code` model runs code in the engine: it must not find the session
    secret, the admin password, the database URL or any token in its environment."""
    secrets = {
        "GPUCHAT_SECRET_KEY": "s" * 40,
        "GPUCHAT_ADMIN_PASSWORD": "admin-password",
        "GPUCHAT_DATABASE_URL": "postgresql+asyncpg://gpuchat:pw@db/gpuchat",
        "GPUCHAT_SUPERVISOR_SECRET": "x" * 40,
        "DATABASE_URL": "postgres://u:pw@db/x",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "HF_TOKEN": "hf_from_the_gateway_env",
        "VLLM_API_KEY": "vllm-key",
        "OPENAI_API_KEY": "sk-x",
    }
    needed = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "HF_HOME": "/models/hf", "LC_ALL": "C.UTF-8"}
    for name, value in {**secrets, **needed}.items():
        monkeypatch.setenv(name, value)
    dump = tmp_path / "env.json"
    program = f"import json, os; json.dump(dict(os.environ), open({str(dump)!r}, 'w'))"
    log = EngineLog(tmp_path / "engine.log")
    child = await ChildProcess.spawn(
        (sys.executable, "-c", program), log, (("HF_TOKEN", "hf_named_by_the_profile"),)
    )
    assert await child.wait() == 0
    env = json.loads(dump.read_text())
    assert not {name for name in env if name.startswith("GPUCHAT_")}
    assert not set(secrets) - {"HF_TOKEN"} & set(env)
    assert env["HF_TOKEN"] == "hf_named_by_the_profile"  # only what the profile names
    assert all(env[name] == value for name, value in needed.items())
    assert env["PATH"] and env["PYTHONUNBUFFERED"] == "1"
