"""`gpuchat profiles import|export` and the seed: profiles.yaml fills an empty database
once; after that the database is the source of truth and the file is imported on purpose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from gpuchat.core.db import create_engine, create_sessionmaker
from gpuchat.db import migrate
from gpuchat.engines.profiles import ProfilesFile
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
            return await load_profile_set(create_sessionmaker(engine), seed)
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
