"""Engine credentials: an external engine's API key comes from the variable its profile
names, and travels as a bearer header on every request the relay sends it."""

from __future__ import annotations

import pytest

from gpuchat.core.security import Principal
from gpuchat.engines.control import Upstream
from gpuchat.engines.environment import upstream_auth
from gpuchat.engines.profiles import Profile
from gpuchat.services.relay.context import RelayContext
from gpuchat.services.relay.stream import _upstream_headers


def _profile(**extra: object) -> Profile:
    return Profile.model_validate(
        {"name": "vllm-pod", "engine": "external", "urls": ["http://vllm:8000/v1"], **extra}
    )


def test_an_external_profile_sends_its_api_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_VLLM_KEY", "k-123")
    keyed = _profile(api_key_env="TEST_VLLM_KEY")
    ctx = RelayContext(
        request_id="r1",
        principal=Principal(1, "a@example.com", "user"),
        alias="vllm-pod",
        upstream=Upstream(keyed, "http://vllm:8000/v1", "m"),
        client="api",
        wants_usage=False,
    )
    assert _upstream_headers(ctx)["Authorization"] == "Bearer k-123"
    assert upstream_auth(_profile()) == {}
    monkeypatch.delenv("TEST_VLLM_KEY")
    assert upstream_auth(keyed) == {}  # unset: no header, never "Bearer None"
    with pytest.raises(ValueError, match="api_key_env"):
        _profile(api_key_env="k-123 the key itself")
