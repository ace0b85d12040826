"""Production refuses to start with unsafe settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from gpuchat.core.config import DEFAULT_SECRET, SAMPLE_ADMIN_PASSWORD, Settings

STRONG = "s" * 40


@pytest.mark.parametrize(
    ("secret", "password", "origins", "problem"),
    [
        (DEFAULT_SECRET, None, [], "GPUCHAT_SECRET_KEY"),
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


def test_production_accepts_safe_settings_and_development_is_lenient() -> None:
    assert Settings(env="production", secret_key=SecretStr(STRONG)).is_production
    assert Settings(env="development").secret_key.get_secret_value() == DEFAULT_SECRET


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
