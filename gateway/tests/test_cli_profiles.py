"""`gpuchat profiles import|export|list` and the seed: profiles.yaml fills an empty database
once; after that the database is the source of truth and the file is imported on purpose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from gpuchat.core.db import create_engine, create_sessionmaker
from gpuchat.db import migrate
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import ProfilesFile
from gpuchat.services.audit.record import Actor
from gpuchat.services.profiles.catalog import ProfileCatalog
from gpuchat.services.profiles.seed import load_profile_set
from tests.test_cli_db import database_url, gpuchat, new_postgres_database

__all__ = ["database_url", "new_postgres_database"]  # fixtures used here

FIRST = """
default: beta
profiles:
  - name: alpha
    aliases: [a]
    engine: external
    urls: ["http://127.0.0.1:9/v1"]
  - name: beta
    engine: external
    urls: ["http://127.0.0.1:10/v1"]
    limits: {max_tokens: 100}
"""
CHANGED = """
profiles:
  - name: beta
    engine: external
    urls: ["http://127.0.0.1:10/v1"]
    limits: {max_tokens: 200}
  - name: gamma
    engine: external
    urls: ["http://127.0.0.1:11/v1"]
"""


def seeded_set(url: str, seed: Path) -> ProfilesFile:
    async def main() -> ProfilesFile:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            return (await load_profile_set(create_sessionmaker(engine), seed)).profiles
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_the_file_seeds_an_empty_database_once(database_url: str, tmp_path: Path) -> None:
    seed = tmp_path / "profiles.yaml"
    seed.write_text(FIRST)
    first = seeded_set(database_url, seed)
    seed.write_text(CHANGED)  # later edits of the file do not reach the database
    second = seeded_set(database_url, seed)

    assert [p.name for p in first.profiles] == ["alpha", "beta"]
    assert first.default == "beta"
    assert second == first


def test_import_merges_by_name_and_export_round_trips(database_url: str, tmp_path: Path) -> None:
    first, changed = tmp_path / "first.yaml", tmp_path / "changed.yaml"
    first.write_text(FIRST)
    changed.write_text(CHANGED)

    seeded = gpuchat("profiles", "import", str(first))
    merged = gpuchat("profiles", "import", str(changed))
    after_merge = yaml.safe_load(gpuchat("profiles", "export").stdout)
    replaced = gpuchat("profiles", "import", "--replace", str(changed))
    exported = gpuchat("profiles", "export").stdout
    again = tmp_path / "again.yaml"
    again.write_text(exported)
    reimported = gpuchat("profiles", "import", str(again))

    assert seeded.exit_code == 0, seeded.output
    assert merged.exit_code == 0, merged.output
    assert [p["name"] for p in after_merge["profiles"]] == ["alpha", "beta", "gamma"]
    assert after_merge["default"] == "beta"  # chosen by the first import, kept
    assert after_merge["profiles"][1]["limits"] == {"max_tokens": 200}
    assert replaced.exit_code == 0
    file = ProfilesFile.model_validate(yaml.safe_load(exported))
    assert [p.name for p in file.profiles] == ["beta", "gamma"]
    assert "Added none, updated none, removed none" in reimported.output


def test_import_refuses_an_invalid_file_and_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    good, clash = tmp_path / "good.yaml", tmp_path / "clash.yaml"
    good.write_text(FIRST)
    clash.write_text(
        "profiles:\n  - name: other\n    aliases: [a]\n    engine: external\n"
        '    urls: ["http://127.0.0.1:9/v1"]\n'
    )
    gpuchat("profiles", "import", str(good))

    refused = gpuchat("profiles", "import", str(clash))
    exported = yaml.safe_load(gpuchat("profiles", "export").stdout)

    assert refused.exit_code == 2
    assert "'a'" in refused.output
    assert [p["name"] for p in exported["profiles"]] == ["alpha", "beta"]


def create_in_catalog(url: str, seed: Path, text: str) -> None:
    """What Admin → Profiles → New does: the catalog the gateway uses, on an engine owner
    that runs nothing."""

    async def main() -> None:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        sessions = create_sessionmaker(engine)
        manager = EngineManager(
            (await load_profile_set(sessions, seed)).profiles,
            models_dir=seed.parent / "models",
            logs_dir=seed.parent / "logs",
        )
        catalog = ProfileCatalog(
            sessions,
            manager,
            editable=True,
            seed=seed,
            models_dir=seed.parent / "models",
            vllm_command=None,
        )
        try:
            await catalog.create(text, Actor.cli())
        finally:
            await manager.close()
            await engine.dispose()

    asyncio.run(main())


def listed(output: str) -> list[str]:
    """The names `gpuchat profiles list` prints, `*name` for the active one."""
    return [line[0].strip() + line[2:].split()[0] for line in output.splitlines()]


def test_list_shows_the_database_set_the_admin_ui_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    seed = tmp_path / "profiles.yaml"
    seed.write_text(FIRST)
    monkeypatch.setenv("GPUCHAT_DATABASE_URL", url)
    monkeypatch.setenv("GPUCHAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GPUCHAT_PROFILES", str(seed))
    monkeypatch.setenv("GPUCHAT_PROFILES_SOURCE", "database")

    before_seed = gpuchat("profiles", "list")
    create_in_catalog(
        url, seed, 'name: delta\nengine: external\nurls: ["http://127.0.0.1:12/v1"]\n'
    )
    seed.write_text(CHANGED)  # no longer read: the database is the source
    from_database = gpuchat("profiles", "list")
    monkeypatch.setenv("GPUCHAT_PROFILES_SOURCE", "file")
    from_file = gpuchat("profiles", "list")

    assert before_seed.exit_code == 0, before_seed.output
    assert listed(before_seed.stdout) == ["alpha", "*beta"]  # what the first start will copy
    assert "No profiles in the database yet" in before_seed.stderr
    assert from_database.exit_code == 0, from_database.output
    assert listed(from_database.stdout) == ["alpha", "*beta", "delta"]
    assert "http://127.0.0.1:12/v1" in from_database.stdout
    assert listed(from_file.stdout) == ["*beta", "gamma"]
