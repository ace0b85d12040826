"""Loading and validating the profiles file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuchat.engines.profiles import EngineKind, ProfilesError, Sampling, load_profiles

REPO_PROFILES = Path(__file__).resolve().parents[3] / "profiles.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_profiles_file_loads() -> None:
    profiles = load_profiles(REPO_PROFILES)

    assert profiles.default_profile.name == "local"
    assert profiles.default_profile.engine is EngineKind.llamacpp
    assert "default" in profiles.default_profile.aliases


def test_validation_error_names_profile_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
profiles:
  - name: ok
    engine: external
    urls: ["http://127.0.0.1:9000/v1"]
  - name: fast
    engine: command
    command: ["python", "-m", "x"]
    timeouts: {idle: -1}
""",
    )

    with pytest.raises(ProfilesError) as caught:
        load_profiles(path)

    message = str(caught.value)
    assert str(path) in message
    assert "profile 'fast' timeouts.idle" in message


def test_duplicate_alias_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
profiles:
  - name: one
    aliases: [shared]
    engine: external
    urls: ["http://127.0.0.1:9000/v1"]
  - name: two
    aliases: [shared]
    engine: external
    urls: ["http://127.0.0.1:9001/v1"]
""",
    )

    with pytest.raises(ProfilesError, match="'shared' is used by profiles one and two"):
        load_profiles(path)


def test_external_profile_without_urls_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
profiles:
  - name: remote
    engine: external
""",
    )

    with pytest.raises(ProfilesError, match=r"profile 'remote'.*at least one URL"):
        load_profiles(path)


def test_unknown_default_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
default: missing
profiles:
  - name: remote
    engine: external
    urls: ["http://127.0.0.1:9000/v1"]
""",
    )

    with pytest.raises(ProfilesError, match="default profile 'missing' is not defined"):
        load_profiles(path)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
profiles:
  - name: local
    engine: llamacpp
    model: packaged:smollm2-135m-instruct
    llamacpp: {context: 4096}
""",
    )

    with pytest.raises(ProfilesError, match=r"profile 'local' llamacpp\.context"):
        load_profiles(path)


POLICY_PROFILE = """
profiles:
  - name: local
    engine: external
    urls: ["http://127.0.0.1:9000/v1"]
    limits: {max_tokens: 1024}
"""


@pytest.mark.parametrize(
    ("lines", "names"),
    [
        ("    defaults: {temperature: 2.5}", "profile 'local' defaults.temperature"),
        ("    defaults: {top_p: 0}", "profile 'local' defaults.top_p"),
        ("    defaults: {repetition_penalty: 0}", "profile 'local' defaults.repetition_penalty"),
        ("    defaults: {presence_penalty: 3}", "profile 'local' defaults.presence_penalty"),
        ("    defaults: {frequency_penalty: -3}", "profile 'local' defaults.frequency_penalty"),
        ("    defaults: {max_tokens: 0}", "profile 'local' defaults.max_tokens"),
        ("    defaults: {repetition_window: -2}", "profile 'local' defaults.repetition_window"),
        ("    defaults: {temprature: 0.7}", "profile 'local' defaults.temprature"),
        ("    defaults: {repeat_penalty: 1.1}", "profile 'local' defaults.repeat_penalty"),
        ("    defaults: {max_tokens: 2048}", "defaults.max_tokens 2048 is above limits.max_tokens"),
        (f"    system_prompt: '{'x' * 8001}'", "profile 'local' system_prompt"),
    ],
)
def test_policy_out_of_range_is_refused_naming_the_field(
    tmp_path: Path, lines: str, names: str
) -> None:
    with pytest.raises(ProfilesError) as caught:
        load_profiles(write(tmp_path, POLICY_PROFILE + lines + "\n"))
    assert names in str(caught.value)


def test_policy_old_default_max_tokens_is_read_as_the_default(tmp_path: Path) -> None:
    old = POLICY_PROFILE.replace(
        "{max_tokens: 1024}", "{max_tokens: 1024, default_max_tokens: 300}"
    )
    profile = load_profiles(write(tmp_path, old)).default_profile
    assert profile.defaults.max_tokens == 300 and profile.limits.max_tokens == 1024
    both = old + "    defaults: {max_tokens: 200}\n"
    with pytest.raises(ProfilesError, match=r"default_max_tokens and defaults\.max_tokens"):
        load_profiles(write(tmp_path, both))


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        (EngineKind.llamacpp, "repeat_penalty"),
        (EngineKind.vllm, "repetition_penalty"),
        (EngineKind.external, "repetition_penalty"),
        (EngineKind.command, "repetition_penalty"),
    ],
)
def test_policy_repetition_penalty_goes_under_the_engines_name(
    kind: EngineKind, field: str
) -> None:
    sampling = Sampling(temperature=0.5, repetition_penalty=1.1)
    assert sampling.engine_fields(kind) == {"temperature": 0.5, field: 1.1}
    assert Sampling().engine_fields(kind) == {}
    # Only llama.cpp has a window for its penalties; vLLM's cover the whole text.
    window = Sampling(repetition_window=256).engine_fields(kind)
    assert window == ({"repeat_last_n": 256} if kind is EngineKind.llamacpp else {})


def test_shipped_default_profile_has_a_policy_against_loops() -> None:
    """docs/looping.md: without these the embedded model looped in Korean."""
    local = load_profiles(REPO_PROFILES).default_profile
    assert local.defaults.repetition_penalty is not None and local.defaults.repetition_penalty > 1
    assert local.defaults.max_tokens is not None and local.defaults.max_tokens <= 1024
    assert local.system_prompt
