"""Admin: groups (create, read, change, delete), their members, the users listing's groups,
and usage reports and CSV by group. Non-admins get 403 and change nothing."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from gpuchat.core.db import session_scope
from gpuchat.db.models import Group, UsageRow
from tests.utils.gateway import RunningGateway
from tests.utils.groups import fresh_email, new_group, user_id

HOSTILE_NAMES = [
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE users; --",
    "%_\\",
    "/org/팀 ☕",
    "=cmd|' /C calc'!A0",
]


async def _group_count(gateway: RunningGateway) -> int:
    async with gateway.state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Group)) or 0


async def test_admin_creates_reads_changes_and_deletes_a_group(gateway: RunningGateway) -> None:
    email = fresh_email()
    member = await user_id(gateway, email)
    name = "team-" + secrets.token_hex(4)
    async with gateway.client() as admin:
        created = await admin.post(
            "/api/admin/groups",
            json={
                "name": f"  {name}  ",
                "description": "the team",
                "models": ["fake", "fake-model", "fake"],
                "limits": {"tokens_per_day": 1000, "requests_per_month": 50},
            },
        )
        assert created.status_code == 201, created.text
        group = created.json()
        path = f"/api/admin/groups/{group['id']}"
        assert (await admin.put(f"{path}/members/{member}")).status_code == 204
        assert (await admin.put(f"{path}/members/{member}")).status_code == 204  # idempotent
        read = (await admin.get(path)).json()
        listed = (await admin.get("/api/admin/groups")).json()
        users = (await admin.get("/api/admin/users", params={"q": email})).json()["data"]
        changed = await admin.patch(path, json={"name": name + "-2", "models": [], "limits": None})
        gone_member = await admin.delete(f"{path}/members/{member}")
        deleted = await admin.delete(path)
        again = await admin.get(path)
    assert group["name"] == name  # the ends trimmed
    assert group["models"] == ["fake", "fake-model"]
    assert group["limits"]["tokens_per_day"] == 1000
    assert group["limits"]["requests_per_month"] == 50
    assert read["members"] == [{"id": member, "email": email}] and read["member_count"] == 1
    assert [g["member_count"] for g in listed["data"] if g["id"] == group["id"]] == [1]
    assert users[0]["groups"] == [name]
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["models"]) == (name + "-2", [])
    assert changed.json()["limits"] is None
    assert gone_member.status_code == 204 and deleted.status_code == 204
    assert again.status_code == 404 and again.json()["error"]["code"] == "group_not_found"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_group_names_are_stored_and_returned_byte_exact(
    gateway: RunningGateway, name: str
) -> None:
    suffix = secrets.token_hex(3)
    group = await new_group(gateway, name=name + suffix, description=name)
    async with gateway.client() as admin:
        read = (await admin.get(f"/api/admin/groups/{group['id']}")).json()
        await admin.delete(f"/api/admin/groups/{group['id']}")
    assert (read["name"], read["description"]) == (name + suffix, name)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"name": ""}, 422, "name"),
        ({"name": "   "}, 422, "name"),
        ({"name": "x" * 65}, 422, "name"),
        ({"name": "tab\there"}, 422, "name"),
        ({"name": "nul\x00"}, 422, "name"),
        ({"name": "ok", "description": "d" * 2001}, 422, "description"),
        ({"name": "ok", "models": ["no-such-model"]}, 422, "models"),
        ({"name": "ok", "models": ["m"] * 101}, 422, "models"),
        ({"name": "ok", "limits": {"tokens_per_day": -1}}, 422, "limits"),
        ({"name": "ok", "limits": {"tokens_per_day": 10**16}}, 422, "limits"),
        ({"name": "ok", "limits": {"bogus": 1}}, 422, "limits"),
        ({"name": "ok", "id": 5}, 422, "id"),
    ],
)
async def test_invalid_groups_are_refused_naming_the_field(
    gateway: RunningGateway, body: dict[str, object], status: int, param: str
) -> None:
    before = await _group_count(gateway)
    async with gateway.client() as admin:
        response = await admin.post("/api/admin/groups", json=body)
    assert response.status_code == status, response.text
    assert param in str(response.json()["error"].get("param"))
    assert await _group_count(gateway) == before


async def test_group_names_are_unique_and_missing_things_are_404(gateway: RunningGateway) -> None:
    first = await new_group(gateway)
    second = await new_group(gateway)
    member = await user_id(gateway, fresh_email())
    async with gateway.client() as admin:
        duplicate = await admin.post("/api/admin/groups", json={"name": first["name"]})
        renamed = await admin.patch(
            f"/api/admin/groups/{second['id']}", json={"name": first["name"]}
        )
        no_group = await admin.put(f"/api/admin/groups/2147483647/members/{member}")
        no_user = await admin.put(f"/api/admin/groups/{first['id']}/members/2147483647")
        huge = await admin.get("/api/admin/groups/2147483648")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "group_name_taken"
    assert renamed.status_code == 409
    assert no_group.status_code == 404 and no_user.status_code == 404
    assert huge.status_code == 422


async def test_group_routes_refuse_non_admins_without_side_effects(
    gateway: RunningGateway,
) -> None:
    email = fresh_email("plain")
    member = await user_id(gateway, email)
    group = await new_group(gateway, models=["unreachable"])
    path = f"/api/admin/groups/{group['id']}"
    calls = [
        ("GET", "/api/admin/groups", None),
        ("POST", "/api/admin/groups", {"name": "made-by-a-user"}),
        ("GET", path, None),
        ("PATCH", path, {"models": []}),
        ("DELETE", path, None),
        ("PUT", f"{path}/members/{member}", None),
        ("DELETE", f"{path}/members/{member}", None),
        ("GET", "/api/admin/usage?group_by=group", None),
    ]
    before = await _group_count(gateway)
    key = await gateway.new_key(email)
    async with gateway.login(email) as browser, gateway.client(key) as program:
        for client in (browser, program):
            for method, url, body in calls:
                response = await client.request(method, url, json=body)
                assert response.status_code == 403, (method, url, response.status_code)
                assert response.json()["error"]["code"] == "admin_required"
    async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
        assert (await anonymous.get("/api/admin/groups")).status_code == 401
    assert await _group_count(gateway) == before
    async with gateway.client() as admin:
        read = (await admin.get(path)).json()
    assert read["models"] == ["unreachable"] and read["members"] == []


async def _usage_row(gateway: RunningGateway, user: int, model: str, tokens: int) -> None:
    async with session_scope(gateway.state.sessions) as session:
        session.add(
            UsageRow(
                request_id=f"{model}-{secrets.token_hex(6)}",
                user_id=user,
                client="api",
                model_alias=model,
                input_tokens=tokens,
                output_tokens=0,
                status_code=200,
                created=datetime(2024, 6, 1, tzinfo=UTC),
            )
        )


async def test_usage_by_group_counts_a_user_in_two_groups_in_both(
    gateway: RunningGateway,
) -> None:
    model = "group-usage-" + secrets.token_hex(4)
    both, only_a, none = fresh_email(), fresh_email(), fresh_email()
    group_a = await new_group(gateway, members=(both, only_a))
    group_b = await new_group(gateway, members=(both,))
    for email, tokens in ((both, 100), (only_a, 10), (none, 1)):
        await _usage_row(gateway, await user_id(gateway, email), model, tokens)
    async with gateway.client() as admin:
        report = (
            await admin.get("/api/admin/usage", params={"model": model, "group_by": "group"})
        ).json()
        only_b = (
            await admin.get("/api/admin/usage", params={"model": model, "group": group_b["name"]})
        ).json()
        by_id = (
            await admin.get("/api/admin/usage", params={"model": model, "group": group_a["id"]})
        ).json()
        unknown = (
            await admin.get("/api/admin/usage", params={"model": model, "group": "%"})
        ).json()
        exported = await admin.get(
            "/api/admin/usage.csv", params={"model": model, "group": group_a["name"]}
        )
    groups = {g["key"]: g["input_tokens"] for g in report["groups"]}
    assert groups == {group_a["name"]: 110, group_b["name"]: 100, "(no group)": 1}
    assert report["totals"]["input_tokens"] == 111  # the totals count each row once
    assert only_b["totals"]["input_tokens"] == 100
    assert by_id["totals"]["input_tokens"] == 110
    assert unknown["totals"]["requests"] == 0
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["user_email"] for r in rows) == sorted([both, only_a])
    by_user = {r["user_email"]: r["groups"] for r in rows}
    assert by_user[both] == "; ".join(sorted([group_a["name"], group_b["name"]]))
    assert by_user[only_a] == group_a["name"]


async def test_each_group_action_leaves_one_audit_entry(gateway: RunningGateway) -> None:
    email = fresh_email()
    member = await user_id(gateway, email)
    async with gateway.client() as admin:
        group = (await admin.post("/api/admin/groups", json={"name": fresh_email("g")})).json()
        path = f"/api/admin/groups/{group['id']}"
        await admin.patch(path, json={"models": ["fake"]})
        await admin.patch(path, json={"models": ["fake"]})  # no change: no entry
        await admin.put(f"{path}/members/{member}")
        await admin.put(f"{path}/members/{member}")  # already a member: no entry
        await admin.delete(f"{path}/members/{member}")
        await admin.delete(path)
        log = (
            await admin.get("/api/admin/audit", params={"target": f"group:{group['id']}"})
        ).json()["data"]
    actions = [(e["action"], e["before"], e["after"]) for e in reversed(log)]
    assert [a for a, _, _ in actions] == [
        "group.create",
        "group.update",
        "group.member_add",
        "group.member_remove",
        "group.delete",
    ]
    assert actions[1][1:] == ({"models": []}, {"models": ["fake"]})
    assert actions[2][2] == {"member": email}
