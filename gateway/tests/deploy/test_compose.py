"""docker-compose.yml and its development overlay, checked against the settings."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from gpuchat.core.config import Settings
from gpuchat.engines.profiles import EngineKind, ProfilesFile
from tests.deploy.helpers import (
    COMPOSE,
    COMPOSE_DEV,
    DEPLOY,
    DOCKERFILES,
    ENV_SAMPLE,
    NGINX_CONF,
    SETTING_NAMES,
    dockerfile_env,
    dockerfile_images,
    environment,
    interpolate,
    is_pinned,
    load_compose,
    url_port,
)

PROD = load_compose(COMPOSE)
DEV = load_compose(COMPOSE_DEV)
SERVICES: dict[str, dict[str, Any]] = PROD["services"]


def _one_shot(name: str) -> bool:
    """A service others wait for to *complete* (e.g. migrations): it exits, by design."""
    return any(
        (svc.get("depends_on") or {}).get(name, {}).get("condition")
        == "service_completed_successfully"
        for svc in SERVICES.values()
        if isinstance(svc.get("depends_on"), dict)
    )


def _healthcheck_port(service: dict[str, Any]) -> int:
    test = " ".join(service["healthcheck"]["test"])
    match = re.search(r"127\.0\.0\.1:(\d+)", test)
    assert match, test
    return int(match.group(1))


@pytest.mark.parametrize("document", [PROD, DEV], ids=["prod", "dev"])
def test_every_gpuchat_variable_is_a_setting(document: dict[str, Any]) -> None:
    vite_config = (DEPLOY.parent / "frontend" / "vite.config.ts").read_text()
    for name, service in document["services"].items():
        unknown = {key for key in environment(service) if key.startswith("GPUCHAT_")}
        if name == "frontend":  # the Vite dev server's own variables
            unknown = {key for key in unknown if f"process.env.{key}" not in vite_config}
        assert unknown <= SETTING_NAMES, f"{name}: not settings: {unknown - SETTING_NAMES}"


def test_dockerfiles_and_env_sample_set_only_settings() -> None:
    for path in DOCKERFILES:
        names = {key for key in dockerfile_env(path) if key.startswith("GPUCHAT_")}
        assert names, path
        assert names <= SETTING_NAMES, f"{path.name}: {names - SETTING_NAMES}"
    sample = dict(
        line.split("=", 1)
        for line in ENV_SAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    names = {key for key in sample if key.startswith("GPUCHAT_")}
    assert names <= SETTING_NAMES, names - SETTING_NAMES
    # Every ${VAR:?...} the compose file requires is in the sample.
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert required <= set(sample), required - set(sample)


def test_gateway_settings_pass_production_validation() -> None:
    """The gateway's environment, with fake secrets, is a valid production configuration."""
    env = {k: interpolate(v, {}) for k, v in environment(SERVICES["gateway"]).items()}
    fields = {k.removeprefix("GPUCHAT_").lower(): v for k, v in env.items()}
    settings = Settings.model_validate(fields)  # no environment, no .env
    assert settings.is_production
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in settings.database_url
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.supervisor_url == "http://vllm:8090"
    assert settings.host == "0.0.0.0"
    assert "localhost" in settings.allowed_hosts  # the health check's Host header


def test_every_service_has_a_health_check_and_a_restart_policy() -> None:
    for name, service in SERVICES.items():
        assert service.get("restart"), f"{name}: no restart policy"
        if _one_shot(name):
            assert str(service["restart"]).startswith("on-failure"), name
            continue
        assert service.get("restart") in ("always", "unless-stopped"), name
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name


def test_images_are_pinned() -> None:
    images = [svc["image"] for svc in SERVICES.values() if "image" in svc]
    images += [a for svc in SERVICES.values() for a in svc.get("build", {}).get("args", {}).values()
               if "/" in str(a)]  # fmt: skip
    images += [DEV["services"]["frontend"]["image"]]
    for path in DOCKERFILES:
        images += dockerfile_images(path)
    assert len(images) >= 10
    unpinned = [image for image in images if not is_pinned(image)]
    assert not unpinned, unpinned


def test_ports_line_up() -> None:
    gateway, vllm = SERVICES["gateway"], SERVICES["vllm"]
    gateway_env, vllm_env = environment(gateway), environment(vllm)
    port = int(gateway_env["GPUCHAT_PORT"])
    assert [str(port)] == gateway["expose"]
    assert _healthcheck_port(gateway) == port
    assert dockerfile_env(DOCKERFILES[0])["GPUCHAT_PORT"] == str(port)
    upstream = re.search(r"server\s+gateway:(\d+);", NGINX_CONF.read_text())
    assert upstream and int(upstream.group(1)) == port

    supervisor_port = int(vllm_env["GPUCHAT_SUPERVISOR_PORT"])
    assert url_port(gateway_env["GPUCHAT_SUPERVISOR_URL"]) == supervisor_port
    assert gateway_env["GPUCHAT_SUPERVISOR_URL"].startswith("http://vllm:")
    assert [str(supervisor_port)] == vllm["expose"]
    assert _healthcheck_port(vllm) == supervisor_port
    assert vllm_env["GPUCHAT_SUPERVISOR_HOST"] == "0.0.0.0"
    assert dockerfile_env(DOCKERFILES[1])["GPUCHAT_SUPERVISOR_PORT"] == str(supervisor_port)
    # Only nginx is published on the host.
    published = {name for name, svc in SERVICES.items() if svc.get("ports")}
    assert published == {"nginx"}
    assert SERVICES["nginx"]["ports"] == ["80:80", "443:443"]


def test_supervisor_and_gateway_share_the_secret_and_trust_only_nginx() -> None:
    gateway_env, vllm_env = environment(SERVICES["gateway"]), environment(SERVICES["vllm"])
    assert gateway_env["GPUCHAT_SUPERVISOR_SECRET"] == vllm_env["GPUCHAT_SUPERVISOR_SECRET"]
    assert "${GPUCHAT_SUPERVISOR_SECRET:?" in gateway_env["GPUCHAT_SUPERVISOR_SECRET"]
    nginx_ip = SERVICES["nginx"]["networks"]["backend"]["ipv4_address"]
    assert gateway_env["GPUCHAT_TRUSTED_PROXIES"] == nginx_ip


def test_vllm_service_has_gpus_hf_cache_and_token() -> None:
    vllm = SERVICES["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert any(v.startswith("hf-cache:/root/.cache/huggingface") for v in vllm["volumes"])
    assert "HUGGING_FACE_HUB_TOKEN" in environment(vllm)
    assert vllm["command"] == ["supervisor"]
    dockerfile = DOCKERFILES[1].read_text()
    assert 'ENTRYPOINT ["gpuchat"]' in dockerfile
    assert "pip install" in dockerfile


def test_production_profiles_validate() -> None:
    mounted = [
        v for v in SERVICES["vllm"]["volumes"] if v.endswith(":/opt/gpuchat/profiles.yaml:ro")
    ]
    assert len(mounted) == 1
    path = DEPLOY.parent / mounted[0].split(":")[0]
    profiles = ProfilesFile.model_validate(yaml.safe_load(path.read_text()))
    assert {p.engine for p in profiles.profiles} == {EngineKind.vllm}
    for profile in profiles.profiles:
        assert len(profile.gpus) == profile.vllm.tensor_parallel_size, profile.name
        assert profile.hf_token_env == "HUGGING_FACE_HUB_TOKEN"


def test_migrations_run_once_before_the_gateway() -> None:
    migrate, gateway = SERVICES["migrate"], SERVICES["gateway"]
    assert "gpuchat db upgrade" in " ".join(migrate["command"])
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert migrate["image"] == gateway["image"]
    assert environment(migrate) == environment(gateway)
    assert gateway["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for name in ("postgres", "redis", "vllm"):
        assert gateway["depends_on"][name] == {"condition": "service_healthy"}
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])


def test_nginx_mounts_config_and_certificates() -> None:
    volumes = SERVICES["nginx"]["volumes"]
    assert "./deploy/nginx/gpuchat.conf:/etc/nginx/conf.d/default.conf:ro" in volumes
    assert "./deploy/nginx/certs:/etc/nginx/certs:ro" in volumes
    assert "/etc/nginx/certs/fullchain.pem" in NGINX_CONF.read_text()


def test_dev_overlay_reloads_on_sqlite_without_nginx() -> None:
    services = DEV["services"]
    gateway = services["gateway"]
    assert "--reload" in gateway["command"]
    port = int(environment(gateway)["GPUCHAT_PORT"])
    assert gateway["command"][gateway["command"].index("--port") + 1] == str(port)
    env = environment(gateway)
    assert env["GPUCHAT_DATABASE_URL"] == ""  # SQLite under the data dir
    assert env["GPUCHAT_ENV"] == "development"
    assert not env.get("GPUCHAT_SUPERVISOR_URL")  # engines in process: the embedded default
    assert "./gateway/src:/app/gateway/src:ro" in gateway["volumes"]
    assert gateway["depends_on"] == {}
    for name in ("nginx", "postgres", "redis", "vllm", "migrate"):
        assert services[name] == {"profiles": ["production"]}, name
    assert set(services) - {"frontend"} <= set(SERVICES)
    frontend = services["frontend"]
    assert frontend["environment"]["GPUCHAT_URL"] == f"http://gateway:{port}"
    for name in ("gateway", "frontend"):
        merged = {**SERVICES.get(name, {}), **services[name]}
        assert merged.get("restart") and merged.get("healthcheck"), name
