"""The profile editor over HTTP: create, edit, clone, delete, preview and export profiles
kept in the database, applied to the engines at once (in process and through
`gpuchat supervisor`)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml

from gpuchat.engines.profiles import ProfilesFile
from tests.api.admin.conftest import SECRET, supervisor, switch_profiles_yaml
from tests.api.admin.test_profiles import profiles, wait_until_active
from tests.conftest import FAKE_UPSTREAM, POSTGRES_URL, reset_postgres
from tests.utils.gateway import RunningGateway, start_gateway

BASE = "/api/admin/profiles"
HI = {"messages": [{"role": "user", "content": "hi"}]}


def gamma_yaml(name: str = "gamma", **extra: Any) -> str:
    document = {
        "name": name,
        "engine": "command",
        "command": [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}"],
        "served_model_name": name,
        "gpus": [1],
        "timeouts": {"drain": 5, "start": 20, "idle": 3},
        **extra,
    }
    return yaml.safe_dump(document)


@pytest.fixture(scope="module", params=["in-process", "supervisor"])
async def editor_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    """Profiles from the database, seeded from the admin tests' file: in process on SQLite,
    through a supervisor on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp("gateway-editor")
    seed = data_dir / "profiles.yaml"
    seed.write_text(switch_profiles_yaml())
    url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    async with contextlib.AsyncExitStack() as stack:
        overrides: dict[str, Any] = {"profiles_source": "database"}
        if request.param == "supervisor":
            await reset_postgres(POSTGRES_URL)
            url = POSTGRES_URL
            supervisor_url = await stack.enter_async_context(supervisor(data_dir, seed))
            overrides |= {"supervisor_url": supervisor_url, "supervisor_secret": SECRET}
        running = await stack.enter_async_context(
            start_gateway(data_dir=data_dir, database_url=url, profiles=seed, **overrides)
        )
        yield running


async def definitions(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get(f"{BASE}/definitions")
    assert response.status_code == 200, response.text
    return {d["name"]: d for d in response.json()["data"]}


def error(response: httpx.Response) -> tuple[int, str | None, str | None]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["param"]


EDITOR_ROUTES = [
    ("GET", f"{BASE}/definitions"),
    ("POST", f"{BASE}/definitions"),
    ("GET", f"{BASE}/definitions/alpha"),
    ("PUT", f"{BASE}/definitions/alpha"),
    ("DELETE", f"{BASE}/definitions/beta"),
    ("POST", f"{BASE}/definitions/alpha/clone"),
    ("POST", f"{BASE}/preview"),
    ("GET", f"{BASE}/export"),
]


@pytest.mark.parametrize(("method", "path"), EDITOR_ROUTES)
async def test_editor_routes_refuse_non_admins_without_side_effects(
    editor_gateway: RunningGateway, method: str, path: str
) -> None:
    key = await editor_gateway.new_key("not-admin@example.com")
    body = {"text": gamma_yaml("intruder"), "name": "intruder"}
    async with editor_gateway.client(key) as client:
        response = await client.request(method, path, json=body)
    async with httpx.AsyncClient(base_url=editor_gateway.url) as anonymous:
        unauthenticated = await anonymous.request(method, path, json=body)
    async with editor_gateway.client() as admin:
        names = set(await definitions(admin))

    assert response.status_code == 403
    assert unauthenticated.status_code == 401
    assert "intruder" not in names
    assert "beta" in names


async def test_definitions_are_seeded_from_the_file_and_exported_back(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        listed = await client.get(f"{BASE}/definitions")
        exported = await client.get(f"{BASE}/export")

    body = listed.json()
    assert (body["source"], body["editable"]) == ("database", True)
    assert [d["name"] for d in body["data"]][:3] == ["alpha", "beta", "remote"]
    alpha = body["data"][0]
    assert alpha["document"]["aliases"] == ["default", "alpha-model"]
    assert yaml.safe_load(alpha["text"]) == alpha["document"]
    assert exported.headers["content-type"].startswith("application/yaml")
    file = ProfilesFile.model_validate(yaml.safe_load(exported.text))
    seeded = ProfilesFile.model_validate(yaml.safe_load(switch_profiles_yaml()))
    assert file.default == "alpha"
    assert {p.name: p for p in file.profiles}["beta"] == seeded.get("beta")


async def test_a_created_profile_is_usable_at_once_and_can_be_activated(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        created = await client.post(f"{BASE}/definitions", json={"text": gamma_yaml()})
        chat = await client.post("/v1/chat/completions", json={"model": "gamma", **HI})
        switched = await client.post(f"{BASE}/gamma/activate")
        await wait_until_active(client, "gamma")
        default_chat = await client.post("/v1/chat/completions", json={"model": "default", **HI})
        back = await client.post(f"{BASE}/alpha/activate")
        await wait_until_active(client, "alpha")
        stop = await client.post(f"{BASE}/gamma/stop")
        listed = await definitions(client)

    assert created.status_code == 201, created.text
    assert created.json()["document"]["gpus"] == [1]
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["content"]
    assert switched.status_code == 202
    assert default_chat.status_code == 200
    assert default_chat.json()["model"] == "gamma"
    assert (back.status_code, stop.status_code) == (202, 202)
    assert "gamma" in listed


async def test_an_edit_of_a_running_profile_waits_for_its_restart(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        current = (await definitions(client))["alpha"]["document"]
        edited = {**current, "description": "edited while running"}
        put = await client.put(f"{BASE}/definitions/alpha", json={"text": yaml.safe_dump(edited)})
        pid_before = (await profiles(client))["alpha"]["pid"]
        status_after_edit = (await profiles(client))["alpha"]
        chat = await client.post("/v1/chat/completions", json={"model": "alpha-model", **HI})
        restart = await client.post(f"{BASE}/alpha/activate")
        await wait_until_active(client, "alpha")
        after = (await profiles(client))["alpha"]
        listed = (await definitions(client))["alpha"]

    assert put.status_code == 200, put.text
    assert put.json()["restart_needed"] is True
    assert status_after_edit["restart_needed"] is True
    assert chat.status_code == 200
    assert restart.status_code == 202
    assert after["restart_needed"] is False
    assert after["pid"] != pid_before
    assert listed["document"]["description"] == "edited while running"
    assert listed["restart_needed"] is False


async def test_clone_copies_without_aliases_and_delete_removes_it(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        clone = await client.post(f"{BASE}/definitions/beta/clone", json={"name": "beta-copy"})
        again = await client.post(f"{BASE}/definitions/beta/clone", json={"name": "beta-copy"})
        missing = await client.post(f"{BASE}/definitions/nope/clone", json={"name": "x"})
        bad_name = await client.post(f"{BASE}/definitions/beta/clone", json={"name": "Bad Name"})
        engines = await profiles(client)
        deleted = await client.delete(f"{BASE}/definitions/beta-copy")
        gone = await client.get(f"{BASE}/definitions/beta-copy")
        engines_after = await profiles(client)

    assert clone.status_code == 201, clone.text
    assert "aliases" not in clone.json()["document"]
    assert (
        clone.json()["document"]["command"][-2:] == ["--load-seconds", "1", "--progress"][-2:]
        or clone.json()["document"]["engine"] == "command"
    )
    assert "beta-copy" in engines
    assert error(again)[:2] == (409, "profile_exists")
    assert error(missing)[:2] == (404, "profile_not_found")
    assert error(bad_name) == (422, "invalid_profile", "name")
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert "beta-copy" not in engines_after


async def test_deleting_the_active_or_a_running_profile_is_refused(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        active = await client.delete(f"{BASE}/definitions/alpha")
        listed = await definitions(client)
        chat = await client.post("/v1/chat/completions", json={"model": "default", **HI})

    assert error(active)[:2] == (409, "not_possible")
    assert "alpha" in listed
    assert chat.status_code == 200


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ("name: bad\nengine: command\ncommand: [x]\nbogus: 1\n", "bogus"),
        ("name: v\nengine: vllm\nmodel: m\nvllm: {extra_args: ['--api-key', 'k']}\n", "vllm"),
        ("name: v\nengine: vllm\nmodel: m\nvllm: {tensor_parallel_size: 0}\n", "vllm"),
        ("name: Upper\nengine: external\nurls: ['http://127.0.0.1:9/v1']\n", "name"),
        ("name: c\nengine: command\ncommand: [x]\naliases: [alpha-model]\n", "aliases"),
        ("- a list\n", None),
        ("name: [unclosed\n", None),
        ("a: &x [1]\nb: *x\n", None),
        ("name: d\nengine: command\ncommand: [x]\nname: e\n", "name"),
        ("name: d\nengine: command\ncommand: [x]\n? [1, 2]\n: 3\n", None),
        ("x" * (70 * 1024), "text"),
    ],
)
async def test_invalid_documents_are_refused_with_the_field_path(
    editor_gateway: RunningGateway, text: str, param: str | None
) -> None:
    async with editor_gateway.client() as client:
        created = await client.post(f"{BASE}/definitions", json={"text": text})
        previewed = await client.post(f"{BASE}/preview", json={"text": text})
        listed = await definitions(client)

    # Aliases clash with another profile: only the set is wrong, a preview of one is fine.
    for response in (created, previewed) if param != "aliases" else (created,):
        status, _, got = error(response)
        assert status == 422, response.text
        assert got == param or (param is not None and (got or "").startswith(param))
    assert set(listed) >= {"alpha", "beta", "remote"}
    assert not {"bad", "v", "c", "Upper"} & set(listed)


async def test_update_refuses_a_new_name_and_an_unknown_profile(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        renamed = await client.put(f"{BASE}/definitions/beta", json={"text": gamma_yaml("zeta")})
        unknown = await client.put(f"{BASE}/definitions/zeta", json={"text": gamma_yaml("zeta")})
        extra = await client.post(f"{BASE}/definitions", json={"text": "x", "more": 1})

    assert error(renamed) == (422, "invalid_profile", "name")
    assert error(unknown)[:2] == (404, "profile_not_found")
    assert extra.status_code == 422


async def test_preview_shows_the_command_line_and_no_secret(
    editor_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREVIEW_HF_TOKEN", "hf-secret-value-123")
    monkeypatch.setenv("PREVIEW_API_KEY", "api-secret-value-456")
    text = yaml.safe_dump(
        {
            "name": "big",
            "engine": "vllm",
            "model": "org/model",
            "gpus": [0, 1],
            "hf_token_env": "PREVIEW_HF_TOKEN",
            "api_key_env": "PREVIEW_API_KEY",
            "vllm": {
                "tensor_parallel_size": 2,
                "max_model_len": 8192,
                "extra_args": ["--seed", "1"],
            },
        }
    )
    async with editor_gateway.client() as client:
        response = await client.post(f"{BASE}/preview", json={"text": text})
        listed = await definitions(client)

    assert response.status_code == 200, response.text
    body = response.json()
    argv = body["argv"]
    assert argv[argv.index("--port") + 1] == "<port>"
    assert argv[argv.index("--max-model-len") + 1] == "8192"
    assert argv[-2:] == ["--seed", "1"]
    assert {"name": "HF_TOKEN", "value": None, "source": "PREVIEW_HF_TOKEN"} in body["env"]
    assert {"name": "CUDA_VISIBLE_DEVICES", "value": "0,1", "source": None} in body["env"]
    assert "secret-value" not in response.text
    assert "big" not in listed  # a preview stores nothing
    assert os.environ["PREVIEW_API_KEY"]  # still set: the check above was meaningful


async def test_every_change_is_in_the_audit_log_with_before_and_after(
    editor_gateway: RunningGateway,
) -> None:
    async with editor_gateway.client() as client:
        await client.post(f"{BASE}/definitions", json={"text": gamma_yaml("audited")})
        await client.put(
            f"{BASE}/definitions/audited", json={"text": gamma_yaml("audited", description="x")}
        )
        await client.post(f"{BASE}/definitions/audited/clone", json={"name": "audited-copy"})
        await client.delete(f"{BASE}/definitions/audited-copy")
        await client.delete(f"{BASE}/definitions/audited")
        refused = await client.delete(f"{BASE}/definitions/alpha")
        log = (
            await client.get("/api/admin/audit", params={"action": "profile", "limit": 50})
        ).json()["data"]

    assert refused.status_code == 409  # refused: not in the log
    # Oldest first; this module's gateway holds other tests' profile changes too.
    recorded = [e for e in reversed(log) if e["target_name"] in ("audited", "audited-copy")]
    summary = [(e["action"], e["target_name"]) for e in recorded]
    assert summary == [
        ("profile.create", "audited"),
        ("profile.update", "audited"),
        ("profile.create", "audited-copy"),
        ("profile.delete", "audited-copy"),
        ("profile.delete", "audited"),
    ]
    assert recorded[0]["before"] is None and recorded[0]["after"]["name"] == "audited"
    assert recorded[1]["after"] == {"description": "x"}  # only what changed
    assert recorded[4]["after"] is None
    assert all(c["actor_id"] == 1 for c in recorded)
