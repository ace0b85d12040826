"""The audit log over HTTP: every admin action leaves exactly one entry with what changed,
a failed one none; the listing's filters, the CSV, and who may read them."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.utils.gateway import ADMIN_EMAIL, RunningGateway

Entry = dict[str, Any]


async def entries(admin: httpx.AsyncClient, **params: str | int) -> list[Entry]:
    response = await admin.get("/api/admin/audit", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    data: list[Entry] = response.json()["data"]
    return data


async def of_user(admin: httpx.AsyncClient, user_id: int) -> list[Entry]:
    """The user's entries, oldest first."""
    return list(reversed(await entries(admin, target=f"user:{user_id}")))


def changes(entry: Entry) -> tuple[str, Any, Any]:
    return entry["action"], entry["before"], entry["after"]


async def test_each_user_action_records_one_entry_with_what_changed(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as admin:
        created = await admin.post(
            "/api/admin/users", json={"email": "audited@example.com", "password": "first-pass-1"}
        )
        user_id = created.json()["user"]["id"]
        path = f"/api/admin/users/{user_id}"
        promoted = await admin.patch(path, json={"role": "admin"})
        await admin.patch(path, json={"role": "admin"})  # already: nothing changes
        await admin.patch(path, json={"role": "user", "disabled": True})  # two kinds at once
        await admin.patch(path, json={"disabled": False})
        await admin.patch(path, json={"limits": {"requests_per_minute": 5}})
        await admin.patch(path, json={"limits": {"requests_per_minute": 9, "tokens_per_day": 10}})
        await admin.patch(path, json={"limits": None})
        await admin.post(f"{path}/password", json={"password": "second-pass-2"})
        await admin.post(f"{path}/password", json={})
        log = await of_user(admin, user_id)

    assert [changes(e) for e in log] == [
        ("user.create", None, {"email": "audited@example.com", "role": "user", "disabled": False}),
        ("user.role", {"role": "user"}, {"role": "admin"}),
        ("user.role", {"role": "admin"}, {"role": "user"}),
        ("user.disable", {"disabled": False}, {"disabled": True}),
        ("user.enable", {"disabled": True}, {"disabled": False}),
        ("user.limits", None, {"requests_per_minute": 5}),
        (
            "user.limits",
            {"requests_per_minute": 5},
            {"requests_per_minute": 9, "tokens_per_day": 10},
        ),
        ("user.limits", {"requests_per_minute": 9, "tokens_per_day": 10}, None),
        ("user.password_reset", None, {"generated": False}),
        ("user.password_reset", None, {"generated": True}),
    ]
    admin_id = log[0]["actor_id"]
    assert {(e["actor_id"], e["actor_email"]) for e in log} == {(admin_id, ADMIN_EMAIL)}
    assert {(e["target_type"], e["target_id"], e["target_name"]) for e in log} == {
        ("user", str(user_id), "audited@example.com")
    }
    assert log[1]["request_id"] == promoted.headers["x-request-id"]
    assert all(e["client_ip"] for e in log)
    # Secrets never reach the log, in any form.
    text = str(log)
    assert "first-pass-1" not in text and "second-pass-2" not in text
    assert "argon2" not in text and "password_hash" not in text


async def test_a_failed_action_records_nothing(gateway: RunningGateway) -> None:
    async with gateway.client() as admin:
        before = (await admin.get("/api/admin/audit")).json()["total"]
        await admin.post("/api/admin/users", json={"email": "twice@example.com"})
        after_create = (await admin.get("/api/admin/audit")).json()["total"]
        duplicate = await admin.post("/api/admin/users", json={"email": "TWICE@example.com"})
        missing = await admin.patch("/api/admin/users/2000000000", json={"role": "admin"})
        missing_reset = await admin.post("/api/admin/users/2000000000/password", json={})
        invalid = await admin.patch("/api/admin/users/1", json={"role": "owner"})
        unknown_key = await admin.delete("/api/keys/2000000000")
        after = (await admin.get("/api/admin/audit")).json()["total"]
    assert (duplicate.status_code, missing.status_code, missing_reset.status_code) == (
        409,
        404,
        404,
    )
    assert (invalid.status_code, unknown_key.status_code) == (422, 404)
    assert after_create == before + 1
    assert after == after_create


async def test_the_last_admin_refused_demotion_leaves_no_entry(gateway: RunningGateway) -> None:
    """The 409 `last_admin` path rolls back before anything is written."""
    async with gateway.client() as admin:
        me = (await admin.get("/api/me")).json()
        others = [
            u
            for u in (await admin.get("/api/admin/users", params={"limit": 200})).json()["data"]
            if u["role"] == "admin" and not u["disabled"] and u["id"] != me["id"]
        ]
        for other in others:  # make the caller the last active admin
            await admin.patch(f"/api/admin/users/{other['id']}", json={"disabled": True})
        before = await of_user(admin, me["id"])
        refused = await admin.patch(f"/api/admin/users/{me['id']}", json={"role": "user"})
        after = await of_user(admin, me["id"])
        for other in others:
            await admin.patch(f"/api/admin/users/{other['id']}", json={"disabled": False})
    assert refused.status_code == 409
    assert after == before


async def test_filter_changes_and_admin_key_revocations_are_recorded(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("keeps-keys@example.com")
    user_key = await gateway.new_key("keeps-keys@example.com", name="own")
    await gateway.new_key(ADMIN_EMAIL, name="=to-revoke")
    async with gateway.client() as admin, gateway.client(user_key) as user:
        await admin.put("/api/admin/filters", json={"words": ["zzaudit-one", "zzaudit-two"]})
        await admin.put("/api/admin/filters", json={"words": ["zzaudit-two", "zzaudit-one"]})
        await admin.put("/api/admin/filters", json={"words": []})
        filters = list(reversed(await entries(admin, action="filter")))[-2:]
        own_keys = (await user.get("/api/keys")).json()["data"]
        assert (await user.delete(f"/api/keys/{own_keys[0]['id']}")).status_code == 204
        admin_keys = (await admin.get("/api/keys")).json()["data"]
        [revoking] = [k for k in admin_keys if k["name"] == "=to-revoke"]
        assert (await admin.delete(f"/api/keys/{revoking['id']}")).status_code == 204
        keys = await entries(admin, action="key.revoke")
    # The same words in another order change nothing: two entries, not three.
    assert filters[0]["after"] == {"words": ["zzaudit-one", "zzaudit-two"]}
    assert changes(filters[1]) == (
        "filter.update",
        {"words": ["zzaudit-one", "zzaudit-two"]},
        {"words": []},
    )
    assert [(e["target_id"], changes(e)) for e in keys if e["actor_email"] != ADMIN_EMAIL] == []
    [revoked] = [e for e in keys if e["target_id"] == str(revoking["id"])]
    assert changes(revoked) == ("key.revoke", {"revoked": False}, {"revoked": True})
    assert revoked["target_name"] == f"{revoking['prefix']} =to-revoke"
    assert str(own_keys[0]["id"]) not in {e["target_id"] for e in keys}


async def test_the_listing_filters_by_actor_action_target_and_time(gateway: RunningGateway) -> None:
    async with gateway.client() as admin:
        made = await admin.post("/api/admin/users", json={"email": "filtered@example.com"})
        user_id = made.json()["user"]["id"]
        await admin.patch(f"/api/admin/users/{user_id}", json={"role": "admin"})
        await admin.patch(f"/api/admin/users/{user_id}", json={"role": "user"})
        me = (await admin.get("/api/me")).json()
        target = f"user:{user_id}"
        by_prefix = await entries(admin, target=target, action="user")
        by_code = await entries(admin, target=target, action="user.role")
        by_half_word = await entries(admin, target=target, action="user.ro")
        by_email = await entries(admin, target=target, actor=ADMIN_EMAIL.upper())
        by_id = await entries(admin, target=target, actor=str(me["id"]))
        by_other = await entries(admin, target=target, actor="someone@example.com")
        by_cli = await entries(admin, target=target, actor="cli")
        by_name = await entries(admin, target="filtered@example.com")
        by_wildcard = await entries(admin, target="%")
        future = await entries(admin, target=target, since="2999-01-01")
        past = await entries(admin, target=target, until="2000-01-01")
        window = await entries(admin, target=target, since="2000-01-01", until="2999-12-31")
        page = (
            await admin.get("/api/admin/audit", params={"target": target, "limit": 1, "offset": 1})
        ).json()
    assert [e["action"] for e in by_prefix] == ["user.role", "user.role", "user.create"]
    assert [e["action"] for e in by_code] == ["user.role", "user.role"]
    assert by_half_word == []
    assert len(by_email) == len(by_id) == 3
    assert by_other == by_cli == by_wildcard == future == past == []
    assert len(by_name) == len(window) == 3
    assert page["total"] == 3
    assert [e["id"] for e in page["data"]] == [by_prefix[1]["id"]]


HOSTILE = [
    {"action": "user%"},
    {"action": "'; DROP TABLE audit_log; --"},
    {"action": "x" * 65},
    {"actor": "a" * 321},
    {"target": "t" * 401},
    {"since": "yesterday"},
    {"until": "99999-01-01"},
    {"since": "0001-01-01"},
    {"limit": 0},
    {"limit": 100000},
    {"offset": -1},
]


@pytest.mark.parametrize("params", HOSTILE)
async def test_hostile_filters_get_a_clean_422(
    gateway: RunningGateway, params: dict[str, str | int]
) -> None:
    paging = "limit" in params or "offset" in params  # the CSV has every row: no paging
    async with gateway.client() as admin:
        for path in (
            ("/api/admin/audit",) if paging else ("/api/admin/audit", "/api/admin/audit.csv")
        ):
            response = await admin.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.json()["error"]["type"] == "invalid_request_error"


async def test_quotes_and_wildcards_in_actor_and_target_are_just_characters(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as admin:
        for value in ("' OR 1=1 --", "%", "_", "\\", "²", "user:%", "user:' OR '1'='1"):
            assert await entries(admin, actor=value, target=value) == []


async def test_csv_export_streams_matching_entries_safe_for_spreadsheets(
    gateway: RunningGateway,
) -> None:
    async with gateway.client() as admin:
        made = await admin.post("/api/admin/users", json={"email": "=HYPERLINK(1)@example.com"})
        user_id = made.json()["user"]["id"]
        await admin.patch(f"/api/admin/users/{user_id}", json={"disabled": True})
        response = await admin.get(
            "/api/admin/audit.csv", params={"target": f"user:{user_id}", "since": "2000-01-01"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="gpuchat-audit-20000101T000000.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["user.create", "user.disable"]  # oldest first
    assert {r["target_name"] for r in rows} == {"'=hyperlink(1)@example.com"}  # emails: lower
    assert rows[1]["before"] == '{"disabled": false}'
    assert rows[1]["after"] == '{"disabled": true}'
    assert rows[0]["actor_email"] == ADMIN_EMAIL


async def test_only_admins_read_the_audit_log(gateway: RunningGateway) -> None:
    await gateway.create_user("curious@example.com")
    key = await gateway.new_key("curious@example.com")
    async with gateway.login("curious@example.com") as browser, gateway.client(key) as program:
        for client in (browser, program):
            for path in ("/api/admin/audit", "/api/admin/audit.csv", "/api/admin/audit/"):
                response = await client.get(path)
                assert response.status_code in (403, 404), (path, response.status_code)
            forbidden = await client.get("/api/admin/audit.csv")
            assert forbidden.status_code == 403
            assert forbidden.json()["error"]["code"] == "admin_required"
    async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
        assert (await anonymous.get("/api/admin/audit")).status_code == 401
