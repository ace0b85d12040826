"""Loading and validating the profiles file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuchat.engines.profiles import EngineKind, ProfilesError, load_profiles

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
