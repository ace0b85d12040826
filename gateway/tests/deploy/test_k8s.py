"""deploy/k8s: the manifests parse, line up with each other and with the settings."""

from __future__ import annotations

import re
from typing import Any

import yaml

from gpuchat.engines.profiles import EngineKind, ProfilesFile
from tests.deploy.helpers import K8S, SETTING_NAMES, is_pinned, load_k8s, url_port

OBJECTS = load_k8s()
KUSTOMIZATION = next(o for o in OBJECTS if o.get("kind") == "Kustomization")


def _get(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in OBJECTS if o.get("kind") == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def _of_kind(*kinds: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o.get("kind") in kinds]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def _profiles() -> ProfilesFile:
    data = _get("ConfigMap", "gpuchat-profiles")["data"]["profiles.yaml"]
    return ProfilesFile.model_validate(yaml.safe_load(data))


def _container_port(workload: dict[str, Any], port: int | str) -> int:
    """A Service targetPort (number or container port name) as a number."""
    if isinstance(port, int):
        return port
    ports = [p for c in _containers(workload) for p in c.get("ports", []) if p.get("name") == port]
    assert len(ports) == 1, port
    return int(ports[0]["containerPort"])


def _workload_for(service: dict[str, Any]) -> dict[str, Any]:
    selector = service["spec"]["selector"]
    found = [
        w
        for w in _of_kind("Deployment", "StatefulSet")
        if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert len(found) == 1, service["metadata"]["name"]
    return found[0]


def test_kustomization_lists_every_manifest() -> None:
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == files


def test_every_gpuchat_variable_is_a_setting() -> None:
    names = {
        name
        for workload in _of_kind("Deployment", "StatefulSet")
        for container in _containers(workload)
        for name in _env(container)
    }
    names |= set(_get("Secret", "gpuchat-secrets")["stringData"])
    gpuchat = {name for name in names if name.startswith("GPUCHAT_")}
    assert len(gpuchat) >= 10
    assert gpuchat <= SETTING_NAMES, gpuchat - SETTING_NAMES


def test_secret_values_are_clearly_fake() -> None:
    secret = _get("Secret", "gpuchat-secrets")
    for key, value in secret["stringData"].items():
        assert "fake" in value.lower() or value.endswith("@example.com"), key


def test_profiles_configmap_validates_and_points_at_vllm_services() -> None:
    profiles = _profiles()
    assert profiles.default_profile.name == "deepseek-r1-14b"
    for profile in profiles.profiles:
        assert profile.engine is EngineKind.external
        for url in profile.urls:
            match = re.match(r"^http://([a-z0-9-]+):(\d+)/v1$", url)
            assert match, url
            service = _get("Service", match.group(1))
            port = next(p for p in service["spec"]["ports"] if p["port"] == int(match.group(2)))
            vllm = _workload_for(service)
            container_port = _container_port(vllm, port["targetPort"])
            args = vllm["spec"]["template"]["spec"]["containers"][0]["args"]
            assert f"--port={container_port}" in args
            assert f"--served-model-name={profile.served_model_name}" in args


def test_vllm_deployments_request_their_tensor_parallel_gpus() -> None:
    deployments = [d for d in _of_kind("Deployment") if d["metadata"]["name"].startswith("vllm-")]
    assert deployments
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        tp = next(int(a.split("=")[1]) for a in args if a.startswith("--tensor-parallel-size="))
        resources = container["resources"]
        assert resources["limits"]["nvidia.com/gpu"] == tp
        assert resources["requests"]["nvidia.com/gpu"] == tp
        assert "--host=0.0.0.0" in args
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        env = {e["name"] for e in container["env"]}
        assert "HUGGING_FACE_HUB_TOKEN" in env


def test_gateway_ports_probes_and_ingress_line_up() -> None:
    deployment = _get("Deployment", "gateway")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = int(_env(container)["GPUCHAT_PORT"])
    assert _env(container)["GPUCHAT_HOST"] == "0.0.0.0"
    service = _get("Service", "gateway")
    assert _workload_for(service) is deployment
    (service_port,) = service["spec"]["ports"]
    assert _container_port(deployment, service_port["targetPort"]) == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    backend = _get("Ingress", "gateway")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"] == {"name": "gateway", "port": {"number": service_port["port"]}}
    redis = _get("Service", "redis")["spec"]["ports"][0]["port"]
    assert _env(container)["GPUCHAT_REDIS_URL"] == f"redis://redis:{redis}/0"
    database_url = _get("Secret", "gpuchat-secrets")["stringData"]["GPUCHAT_DATABASE_URL"]
    postgres = _get("Service", "postgres")["spec"]["ports"][0]["port"]
    assert database_url.startswith("postgresql+asyncpg://")
    assert url_port(database_url) == postgres
    # The migrations run first, with the same settings.
    migrate = deployment["spec"]["template"]["spec"]["initContainers"][0]
    assert "gpuchat db upgrade" in " ".join(migrate["command"])
    assert _env(migrate) == _env(container)


def test_gateway_autoscales() -> None:
    hpa = _get("HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway"
    assert hpa["spec"]["minReplicas"] >= 2  # with Redis: limits are shared


def test_ingress_streams_server_sent_events() -> None:
    annotations = _get("Ingress", "gateway")["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "proxy-buffering"] == "off"
    assert int(annotations[prefix + "proxy-read-timeout"]) >= 3600
    assert int(annotations[prefix + "proxy-send-timeout"]) >= 3600
    assert annotations[prefix + "proxy-http-version"] == "1.1"


def test_stateful_services_are_statefulsets_with_probes() -> None:
    for name in ("postgres", "redis"):
        workload = _get("StatefulSet", name)
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"]


def test_images_are_pinned() -> None:
    renamed = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in KUSTOMIZATION["images"]}
    images = [
        renamed.get(c["image"], c["image"])
        for w in _of_kind("Deployment", "StatefulSet")
        for c in _containers(w)
    ]
    assert images
    unpinned = [image for image in images if not is_pinned(image)]
    assert not unpinned, unpinned


def _admits(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a NetworkPolicy selects pods with these labels."""
    selector = policy["spec"]["podSelector"]
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_only_the_gateway_reaches_vllm_and_with_a_key() -> None:
    """Any pod could call vLLM directly (no quotas, no usage rows): a NetworkPolicy lets
    only the gateway in, and vLLM wants an API key the gateway reads from the Secret."""
    gateway_labels = _get("Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    secret = _get("Secret", "gpuchat-secrets")["stringData"]
    policies = _of_kind("NetworkPolicy")
    guarded = [
        d
        for d in _of_kind("Deployment", "StatefulSet")
        if d["metadata"]["name"].startswith("vllm-")
        or d["metadata"]["name"] in ("postgres", "redis")
    ]
    assert len(guarded) >= 3
    for workload in guarded:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selecting = [p for p in policies if _admits(p, labels)]
        assert selecting, workload["metadata"]["name"]
        for policy in selecting:
            assert policy["spec"]["policyTypes"] == ["Ingress"]
            for rule in policy["spec"]["ingress"]:
                sources = [s["podSelector"]["matchLabels"] for s in rule["from"]]
                assert all(s.items() <= gateway_labels.items() for s in sources), policy
    for deployment in (d for d in guarded if d["metadata"]["name"].startswith("vllm-")):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        key = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
        assert key["valueFrom"]["secretKeyRef"]["key"] in secret
        assert not any("--api-key" in a for a in container["args"])  # not on the argv
    configmap = _get("ConfigMap", "gpuchat-profiles")["data"]["profiles.yaml"]
    for profile in _profiles().profiles:
        assert profile.api_key_env in secret, profile.name
        assert secret[profile.api_key_env] not in configmap  # the key is never in the YAML
