"""Production refuses to start with unsafe settings."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from gpuchat.core.config import SAMPLE_ADMIN_PASSWORD, Settings

STRONG = "s" * 40
# What every development gateway signed sessions with before secrets were generated.
OLD_DEFAULT_SECRET = "change-me-development-secret-0123456789"
REPOSITORY = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("secret", "password", "origins", "problem"),
    [
        (OLD_DEFAULT_SECRET, None, [], "GPUCHAT_SECRET_KEY"),
        ("short-secret", None, [], "GPUCHAT_SECRET_KEY"),
        (STRONG, SAMPLE_ADMIN_PASSWORD, [], "GPUCHAT_ADMIN_PASSWORD"),
        (STRONG, None, ["*"], "GPUCHAT_CORS_ORIGINS"),
    ],
)
def test_production_refuses_unsafe_settings(
    secret: str, password: str | None, origins: list[str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(
            env="production",
            secret_key=SecretStr(secret),
            admin_password=SecretStr(password) if password else None,
            cors_origins=origins,
        )


def test_production_refuses_a_sample_sso_client_secret() -> None:
    with pytest.raises(ValidationError, match="GPUCHAT_OIDC_CLIENT_SECRET"):
        Settings(
            env="production",
            secret_key=SecretStr(STRONG),
            oidc_client_secret=SecretStr("replace-me-with-the-client-secret"),
        )


def test_sso_lists_and_empty_values_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GPUCHAT_OIDC_ADMIN_GROUPS", "gpuchat-admins, ops ,")
    monkeypatch.setenv("GPUCHAT_OIDC_CLIENT_SECRET", "")
    monkeypatch.setenv("GPUCHAT_PASSWORD_LOGIN", "off")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.oidc_admin_groups == ["gpuchat-admins", "ops"]
    assert settings.oidc_client_secret is None
    assert settings.password_login == "off"
    assert not settings.oidc_enabled


def test_production_accepts_safe_settings() -> None:
    assert Settings(env="production", secret_key=SecretStr(STRONG)).is_production


def test_without_a_secret_one_is_generated_and_kept_in_the_data_dir(tmp_path: Path) -> None:
    """Never a constant: each installation signs with its own random secret, 0600."""
    secret = Settings(data_dir=tmp_path / "a").session_secret
    assert len(secret) >= 32 and "change-me" not in secret
    kept = tmp_path / "a" / "secret_key"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "a").session_secret == secret  # survives a restart
    assert Settings(data_dir=tmp_path / "b").session_secret != secret


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_a_weak_secret_is_refused_on_a_public_address(host: str) -> None:
    """The gateway image listens on 0.0.0.0 in development: a sample secret there would
    let anyone sign an admin session."""
    for weak in (OLD_DEFAULT_SECRET, "short"):
        with pytest.raises(ValidationError, match="GPUCHAT_SECRET_KEY"):
            Settings(host=host, secret_key=SecretStr(weak))
        assert Settings(host="127.0.0.1", secret_key=SecretStr(weak)).listen_problem(host)
    assert Settings(host=host, secret_key=SecretStr(STRONG)).listen_problem(host) is None
    assert Settings(host=host).listen_problem(host) is None  # a generated one


SAMPLE_FILES = (".env.sample", "deploy/env.production.sample", "deploy/k8s/secret.yaml")
SECRET_SETTINGS = ("SECRET_KEY", "ADMIN_PASSWORD", "SUPERVISOR_SECRET", "METRICS_TOKEN")


def _sample_values() -> list[tuple[str, str, str]]:
    found = []
    pattern = re.compile(r"^\s*GPUCHAT_(" + "|".join(SECRET_SETTINGS) + r")\s*[=:]\s*(\S+)", re.M)
    for name in SAMPLE_FILES:
        for setting, value in pattern.findall((REPOSITORY / name).read_text()):
            found.append((name, setting.lower(), value.strip("'\"")))
    return found


def test_production_refuses_every_sample_secret_shipped_in_the_repository() -> None:
    samples = _sample_values()
    assert {file for file, _, _ in samples} >= {
        "deploy/env.production.sample",
        "deploy/k8s/secret.yaml",
    }
    for file, setting, value in samples:
        safe: dict[str, object] = {"secret_key": SecretStr(STRONG)}
        if setting == "supervisor_secret":
            safe["supervisor_url"] = "http://gpu-host:8090"
        with pytest.raises(ValidationError):
            Settings(env="production", **{**safe, setting: SecretStr(value)})
        print(file, setting, "refused")


def test_list_settings_read_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUCHAT_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("GPUCHAT_TRUSTED_PROXIES", "10.0.0.0/8")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == ["10.0.0.0/8"]


def test_env_sample_documents_every_setting() -> None:
    sample = (Path(__file__).resolve().parents[3] / ".env.sample").read_text()
    missing = [name for name in Settings.model_fields if f"GPUCHAT_{name.upper()}=" not in sample]
    assert missing == []
