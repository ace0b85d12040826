"""Settings: the only place the environment is read."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shlex
import tempfile
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gpuchat.core.security import Role

SAMPLE_ADMIN_PASSWORD = "change-me-admin-password"  # noqa: S105 - the value production refuses
MIN_SECRET_LENGTH = 32
# The sample values shipped in this repository (.env.sample, deploy/env.production.sample,
# deploy/k8s/secret.yaml) all say so; a secret or password containing one is a sample.
SAMPLE_MARKERS = ("change-me", "changeme", "replace-me", "replace_me", "example")
# Generated secrets, kept under the data directory (0600): the session secret, and the
# supervisor's control secret.
SECRET_FILE = "secret_key"  # noqa: S105 - a file name
SUPERVISOR_FILE = "supervisor_secret"


def is_sample(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in SAMPLE_MARKERS)


def is_weak_secret(value: str) -> bool:
    return len(value) < MIN_SECRET_LENGTH or is_sample(value)


def stored_secret(path: Path) -> str:
    """The random secret kept in `path` (mode 0600), created on first use. Processes that
    start together (workers) race safely: the file appears whole (a link) or not at all,
    and whoever loses reads the winner's."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(draft, path)
        finally:
            os.unlink(draft)
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"{path} does not hold a secret; delete it to have one generated")
    return value


class Environment(StrEnum):
    development = "development"
    production = "production"


class PasswordLogin(StrEnum):
    """Who may sign in with a password (GPUCHAT_PASSWORD_LOGIN). The first admin
    (GPUCHAT_ADMIN_EMAIL) always may: a broken identity provider never locks the team out."""

    all = "all"  # every account that has a password
    admins = "admins"  # accounts with the admin role, and the first admin
    off = "off"  # only the first admin


class ProfilesSource(StrEnum):
    """Where the gateway reads its model profiles (docs/operations.md, "Profiles")."""

    database = "database"  # seeded once from `profiles`, then edited in the admin UI
    file = "file"  # `profiles` alone, read at start; the admin UI cannot edit them


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
    # Signs session tokens. Unset: a random secret generated on first start and kept in
    # the data directory (`session_secret`). Production needs it set (replicas share it).
    secret_key: SecretStr | None = None
    profiles: Path = Path("profiles.yaml")
    profiles_source: ProfilesSource = ProfilesSource.database
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
    # The HTTP server's own limits (core/server.py): a request's headers (431 beyond),
    # idle keep-alive connections, and connections plus requests at once (503 beyond).
    http_max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    http_keepalive_seconds: int = Field(default=5, ge=1, le=300)
    http_max_concurrency: int = Field(default=4096, ge=16)
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
    # Usage limits per user (0: none); the user's groups and an admin's per-user `limits`
    # override them (services/limits/quotas.py).
    user_requests_per_minute: int = Field(default=0, ge=0)
    user_tokens_per_minute: int = Field(default=0, ge=0)
    user_concurrent_streams: int = Field(default=0, ge=0)
    user_tokens_per_day: int = Field(default=0, ge=0)
    user_tokens_per_month: int = Field(default=0, ge=0)
    user_requests_per_day: int = Field(default=0, ge=0)
    user_requests_per_month: int = Field(default=0, ge=0)
    # Usage limits per API key (0: none), on top of its owner's.
    key_requests_per_minute: int = Field(default=0, ge=0)
    key_tokens_per_minute: int = Field(default=0, ge=0)
    key_concurrent_streams: int = Field(default=0, ge=0)
    # The admission queue per engine (beyond the profile's max_concurrency).
    queue_max_length: int = Field(default=200, ge=0)
    queue_max_wait_seconds: float = Field(default=300.0, gt=0)
    # The share of an engine's queue one user's waiting requests may take (1: all of it).
    queue_user_share: float = Field(default=0.25, gt=0, le=1)
    # Share of requests whose prompt and answer are logged, PII masked (0: none, 1: all).
    log_sample_rate: float = Field(default=0.0, ge=0, le=1)
    # OpenTelemetry traces go to this OTLP/HTTP endpoint when set (e.g. http://otel:4318).
    otlp_endpoint: str | None = None
    # GET /metrics with `Authorization: Bearer <this token>` is always answered.
    metrics_token: SecretStr | None = None
    # Addresses (IPs or CIDRs, the socket peer, never X-Forwarded-For) that may read
    # /metrics without the token. Production answers nobody else; development, with no
    # token set, anyone.
    metrics_sources: Annotated[list[str], NoDecode] = Field(default_factory=list)
    password_login: PasswordLogin = PasswordLogin.all
    # Single sign-on (OpenID Connect, authorization code + PKCE): on when the discovery URL
    # and client id are set. docs/sso.md has examples per provider.
    oidc_discovery_url: str | None = None  # .../.well-known/openid-configuration
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_display_name: str = Field(default="SSO", min_length=1, max_length=60)
    oidc_scopes: str = "openid email profile"
    # The callback the provider redirects to, as registered there (unset: this gateway's
    # own URL + /api/auth/oidc/callback; set it behind a proxy that rewrites the host).
    oidc_redirect_url: str | None = None
    oidc_default_role: Role = Role.user  # the role of a user created at first sign-in
    oidc_groups_claim: str = "groups"  # the ID token / userinfo claim holding group names
    # Group names that make an admin. Set: re-evaluated at every SSO sign-in (admin when in
    # one, otherwise the default role). Empty: roles are managed in gpuchat only.
    oidc_admin_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # On: at every SSO sign-in the user's gpuchat groups become exactly those named in the
    # claim that exist in gpuchat (names an admin has not created are ignored). Off: groups
    # are managed in gpuchat only. A token without the claim changes nothing.
    oidc_sync_groups: bool = False

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: dict[str, object]) -> dict[str, object]:
        for name in (
            "cors_origins",
            "trusted_proxies",
            "allowed_hosts",
            "metrics_sources",
            "oidc_admin_groups",
        ):
            value = data.get(name)
            if isinstance(value, str):
                data[name] = [item.strip() for item in value.split(",") if item.strip()]
        for name in ("secret_key", "supervisor_secret", "metrics_token", "oidc_client_secret"):
            if data.get(name) in ("", SecretStr("")):
                data[name] = None  # `GPUCHAT_SECRET_KEY=` means unset
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_settings(self) -> Self:
        problem = self.listen_problem(self.host)
        if problem is not None:
            raise ValueError(problem)
        if self.env is not Environment.production:
            return self
        if self.secret_key is None or is_weak_secret(self.secret_key.get_secret_value()):
            raise ValueError(
                f"GPUCHAT_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production"
            )
        password = self.admin_password.get_secret_value() if self.admin_password else None
        if password is not None and is_sample(password):
            raise ValueError("GPUCHAT_ADMIN_PASSWORD still has the sample value")
        oidc_secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else ""
        if is_sample(oidc_secret):
            raise ValueError("GPUCHAT_OIDC_CLIENT_SECRET still has the sample value")
        if "*" in self.cors_origins:
            raise ValueError("GPUCHAT_CORS_ORIGINS cannot be '*' in production")
        if self.supervisor_url and is_weak_secret(self.supervisor_secret_value or ""):
            raise ValueError(
                f"GPUCHAT_SUPERVISOR_SECRET must be a random value of at least "
                f"{MIN_SECRET_LENGTH} characters when GPUCHAT_SUPERVISOR_URL is set in production"
            )
        if self.metrics_token is not None and is_weak_secret(self.metrics_token.get_secret_value()):
            raise ValueError(
                f"GPUCHAT_METRICS_TOKEN must be a random value of at least {MIN_SECRET_LENGTH} "
                "characters in production"
            )
        return self

    def listen_problem(self, host: str) -> str | None:
        """Why the gateway must not listen on `host` with this secret (None: it may). A
        weak or sample secret is refused in production and on any non-loopback address:
        whoever knows it signs admin sessions."""
        if self.secret_key is None:
            return None  # a generated one
        secret = self.secret_key.get_secret_value()
        if not is_weak_secret(secret) or (not self.is_production and _is_loopback(host)):
            return None
        return (
            f"GPUCHAT_SECRET_KEY must be a random value of at least {MIN_SECRET_LENGTH} "
            f"characters, not a sample (the gateway listens on {host}); unset, one is "
            f"generated in the data directory"
        )

    @cached_property
    def session_secret(self) -> str:
        """What signs session tokens: GPUCHAT_SECRET_KEY, or the generated one."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return stored_secret(self.data_dir / SECRET_FILE)

    @property
    def supervisor_secret_value(self) -> str | None:
        """GPUCHAT_SUPERVISOR_SECRET as configured (None: not set)."""
        secret = self.supervisor_secret.get_secret_value() if self.supervisor_secret else ""
        return secret or None

    @cached_property
    def supervisor_control_secret(self) -> str:
        """What the supervisor's control API takes: GPUCHAT_SUPERVISOR_SECRET, or one
        generated in the data directory, which a gateway on the same host reads too. The
        control API never runs without one."""
        return self.supervisor_secret_value or stored_secret(self.data_dir / SUPERVISOR_FILE)

    def supervisor_secret_problem(self, host: str) -> str | None:
        """Why `gpuchat supervisor` must not listen on `host` (None: it may). Beyond
        loopback it needs a long configured secret (a generated one would be unknown to
        the gateways of other hosts); a short one only serves loopback, in development."""
        configured = self.supervisor_secret_value
        if configured is not None and not is_weak_secret(configured):
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
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_discovery_url and self.oidc_client_id)

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
