"""Reading the deployment files (compose, Kubernetes, nginx, Dockerfiles) for the tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gpuchat.core.config import Settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_DEV = ROOT / "docker-compose.dev.yml"
K8S = DEPLOY / "k8s"
NGINX_CONF = DEPLOY / "nginx" / "gpuchat.conf"
DOCKERFILES = [DEPLOY / "docker" / "Dockerfile", DEPLOY / "docker" / "Dockerfile.vllm"]
ENV_SAMPLE = DEPLOY / "env.production.sample"

SETTING_NAMES = frozenset(f"GPUCHAT_{name.upper()}" for name in Settings.model_fields)
# ${VAR}, ${VAR:-default}, ${VAR:?message}: compose interpolation.
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


class _ComposeLoader(yaml.SafeLoader):
    """Compose's YAML: `!reset` and `!override` tags mark how an overlay merges."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_ComposeLoader.add_constructor("!reset", _tagged)
_ComposeLoader.add_constructor("!override", _tagged)


def load_compose(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ComposeLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(data, dict)
    return data


def load_k8s() -> list[dict[str, Any]]:
    """Every object of every manifest, each with `__file__` added."""
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                documents.append({**document, "__file__": path.name})
    return documents


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's `environment`, list or mapping form, as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def interpolate(value: str, values: dict[str, str]) -> str:
    """Compose's `${VAR...}` substitution with the given values (default: a fake secret)."""
    fake = "fake-value-for-tests-0123456789abcdefghijklmnopqrstuvwxyz"
    return _INTERPOLATION.sub(lambda m: values.get(m.group(1), fake), value)


def dockerfile_env(path: Path) -> dict[str, str]:
    """The `ENV a=b c=d` assignments of a Dockerfile (continuation lines joined)."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def dockerfile_images(path: Path) -> list[str]:
    """Base images: `FROM` lines, `COPY --from=<image>` and `ARG ..._IMAGE=` defaults."""
    text = path.read_text(encoding="utf-8")
    images = re.findall(r"^ARG \w*IMAGE=(\S+)", text, re.MULTILINE)
    images += [m for m in re.findall(r"^FROM (\S+)", text, re.MULTILINE) if "$" not in m]
    images += [m for m in re.findall(r"COPY --from=(\S+)", text) if "/" in m or ":" in m]
    return images


def is_pinned(image: str) -> bool:
    """`name:tag` where the tag names a version (a digit in it), or a digest."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and any(c.isdigit() for c in tag)


def url_port(url: str) -> int:
    match = re.match(r"^\w[\w+.-]*://(?:[^@/]*@)?[^:/]+:(\d+)", url)
    assert match, f"no explicit port in {url}"
    return int(match.group(1))
