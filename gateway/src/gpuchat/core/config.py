"""Settings: the only place the environment is read."""

from __future__ import annotations

import ipaddress
import shlex
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
    # How long an API key's caller is remembered (0: read the database on every request).
    # Changes through this process apply at once; from another replica, within this time.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Client addresses whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host header allow-list, enforced in production (comma-separated; empty: any).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    login_attempts_per_account: str = "5/minute"
    login_attempts_per_address: str = "20/minute"
    # Uvicorn worker processes. Above 1, `gpuchat run` starts `gpuchat supervisor` as its
    # own process and the workers talk to it (one owner of the engines per host).
    workers: int = Field(default=1, ge=1, le=64)
    # The gateway side: when set, engines are run by `gpuchat supervisor` at this URL.
    supervisor_url: str | None = None
    # Both sides: the shared secret of the supervisor's control API (>= 32 characters).
    supervisor_secret: SecretStr | None = None
    # How vLLM starts: an argv prefix the model path follows, e.g. `vllm serve` (the
    # vllm/vllm-openai image) or `/opt/vllm/bin/python -m vllm.entrypoints.openai.api_server
    # --model`. Unset: `.venv-vllm/` beside the gateway's environment (`make vllm`), else
    # `vllm serve` on PATH.
    vllm_command: str | None = None
    # The supervisor side: where `gpuchat supervisor` listens.
    supervisor_host: str = "127.0.0.1"
    supervisor_port: int = Field(default=8090, ge=1, le=65535)
    # Usage limits per user (0: none); an admin's per-user `limits` override them.
    user_requests_per_minute: int = Field(default=0, ge=0)
    user_tokens_per_minute: int = Field(default=0, ge=0)
    user_concurrent_streams: int = Field(default=0, ge=0)
    user_tokens_per_day: int = Field(default=0, ge=0)
    user_tokens_per_month: int = Field(default=0, ge=0)
    # Usage limits per API key (0: none), on top of its owner's.
    key_requests_per_minute: int = Field(default=0, ge=0)
    key_tokens_per_minute: int = Field(default=0, ge=0)
    key_concurrent_streams: int = Field(default=0, ge=0)
    # The admission queue per engine (beyond the profile's max_concurrency).
    queue_max_length: int = Field(default=200, ge=0)
    queue_max_wait_seconds: float = Field(default=300.0, gt=0)
    # Share of requests whose prompt and answer are logged, PII masked (0: none, 1: all).
    log_sample_rate: float = Field(default=0.0, ge=0, le=1)
    # OpenTelemetry traces go to this OTLP/HTTP endpoint when set (e.g. http://otel:4318).
    otlp_endpoint: str | None = None
    # When set, GET /metrics requires `Authorization: Bearer <this token>`.
    metrics_token: SecretStr | None = None

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
        if self.supervisor_url and len(self.supervisor_secret_value or "") < MIN_SECRET_LENGTH:
            raise ValueError(
                f"GPUCHAT_SUPERVISOR_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                "when GPUCHAT_SUPERVISOR_URL is set in production"
            )
        return self

    @property
    def supervisor_secret_value(self) -> str | None:
        secret = self.supervisor_secret.get_secret_value() if self.supervisor_secret else ""
        return secret or None

    def supervisor_secret_problem(self, host: str) -> str | None:
        """Why `gpuchat supervisor` must not listen on `host` (None: it may). Without a long
        secret it only listens on loopback, in development."""
        if len(self.supervisor_secret_value or "") >= MIN_SECRET_LENGTH:
            return None
        if not self.is_production and _is_loopback(host):
            return None
        return (
            f"GPUCHAT_SUPERVISOR_SECRET must be set to a random value of at least "
            f"{MIN_SECRET_LENGTH} characters (the supervisor listens on {host})"
        )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'gpuchat.db'}"

    @property
    def vllm_command_argv(self) -> tuple[str, ...] | None:
        return tuple(shlex.split(self.vllm_command)) if self.vllm_command else None

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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
