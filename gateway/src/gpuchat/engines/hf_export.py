"""Packaged models for vLLM: a GGUF from the packaged wheels, exported once to an HF directory.

`export()` runs `hf_convert.py` with the vLLM environment's interpreter into a temporary
directory beside the target, records the size and sha256 of every file it wrote in
`gpuchat-export.json`, and renames the directory into place, so a half-written export is
never used. `exported_dir()` is the cheap check a launcher makes (the record names the GGUF
it came from, and every file is there with its recorded size).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from gpuchat.engines import packaged
from gpuchat.engines.packaged import PackagedModelError

RECORD: Final = "gpuchat-export.json"
CONVERTER: Final = Path(__file__).with_name("hf_convert.py")
EXPORT_HINT: Final = "run `make vllm` (or `gpuchat models export-hf {name}`)"


class ModelNotExported(PackagedModelError):
    pass


def export_path(name: str, models_dir: Path) -> Path:
    return models_dir / f"{name}-hf"


def default_python() -> Path:
    """The vLLM environment `make vllm` builds beside the gateway's (`.venv-vllm/`)."""
    return Path(sys.prefix).parent / ".venv-vllm" / "bin" / "python"


def _read_record(directory: Path) -> dict[str, object] | None:
    try:
        record = json.loads((directory / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_exported(name: str, models_dir: Path) -> bool:
    spec = packaged.PACKAGED_MODELS.get(name)
    directory = export_path(name, models_dir)
    record = _read_record(directory)
    if spec is None or record is None or record.get("source_sha256") != spec.sha256:
        return False
    files = record.get("files")
    if not isinstance(files, dict) or "config.json" not in files:
        return False
    for relative, entry in files.items():
        try:
            if (directory / relative).stat().st_size != entry["size"]:
                return False
        except (OSError, TypeError, KeyError):
            return False
    return True


def exported_dir(name: str, models_dir: Path) -> Path:
    """The HF directory of packaged model `name`; raises when it is not exported (yet)."""
    packaged.resolve_model_path(f"{packaged.PACKAGED_PREFIX}{name}", models_dir)  # known?
    if not is_exported(name, models_dir):
        raise ModelNotExported(
            f"packaged model '{name}' is not exported for vLLM in {models_dir}; "
            + EXPORT_HINT.format(name=name)
        )
    return export_path(name, models_dir).resolve()


def export(name: str, models_dir: Path, *, python: Path | None = None) -> Path:
    """Write (or reuse) the HF directory of packaged model `name`; returns its path."""
    if is_exported(name, models_dir):
        return export_path(name, models_dir)
    gguf = packaged.resolve_model_path(f"{packaged.PACKAGED_PREFIX}{name}", models_dir)
    python = python or default_python()
    if not python.is_file():
        raise PackagedModelError(
            f"no vLLM environment at {python.parent.parent}; run `make vllm` first"
        )
    target = export_path(name, models_dir)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=models_dir))
    try:
        done = subprocess.run(  # our own script, an argv list
            [str(python), str(CONVERTER), str(gguf), str(work)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise PackagedModelError(f"exporting '{name}' failed:\n{tail}")
        _write_record(name, work)
        work.chmod(0o755)  # mkdtemp makes 0700; the engine may run as another user
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _write_record(name: str, directory: Path) -> None:
    files: dict[str, dict[str, object]] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            path.chmod(0o644)
            digest = hashlib.sha256()
            with path.open("rb") as data:
                while chunk := data.read(1024 * 1024):
                    digest.update(chunk)
            relative = path.relative_to(directory).as_posix()
            files[relative] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
    record = {
        "model": name,
        "source_sha256": packaged.PACKAGED_MODELS[name].sha256,
        "files": files,
    }
    (directory / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
