"""Settings: the only place the environment is read."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "change-me-development-secret-0123456789"  # noqa: S105 - the value production refuses
SAMPLE_ADMIN_PASSWORD = "change-me-admin-password"  # noqa: S105 - the value production refuses
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GPUCHAT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    profiles: Path = Path("profiles.yaml")
    # The built web UI, served at `/` (relative paths, like the others, from the working
    # directory: the repository root for `make run`).
    ui_dir: Path = Path("frontend/dist")
    admin_email: str = "admin@example.com"
    admin_password: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool | None = None
    log_file: Path | None = None
    # Upstream connection pool: must be at least the number of concurrent streams served.
    upstream_pool_size: int = Field(default=1024, ge=1)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    start_engines: bool = True
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # Client addresses whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host header allow-list, enforced in production (comma-separated; empty: any).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    login_attempts_per_account: str = "5/minute"
    login_attempts_per_address: str = "20/minute"

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: dict[str, object]) -> dict[str, object]:
        for name in ("cors_origins", "trusted_proxies", "allowed_hosts"):
            value = data.get(name)
            if isinstance(value, str):
                data[name] = [item.strip() for item in value.split(",") if item.strip()]
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.env is not Environment.production:
            return self
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"GPUCHAT_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production"
            )
        password = self.admin_password.get_secret_value() if self.admin_password else None
        if password == SAMPLE_ADMIN_PASSWORD:
            raise ValueError("GPUCHAT_ADMIN_PASSWORD still has the sample value")
        if "*" in self.cors_origins:
            raise ValueError("GPUCHAT_CORS_ORIGINS cannot be '*' in production")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'gpuchat.db'}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json
