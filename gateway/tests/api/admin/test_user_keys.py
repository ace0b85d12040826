"""An admin revokes another user's API key: it stops at once, the audit log says who did it,
and nobody else can list or revoke anyone's keys this way."""

from __future__ import annotations

import httpx

from tests.api.admin.test_audit import changes, entries
from tests.utils.gateway import RunningGateway

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


async def _user_id(admin: httpx.AsyncClient, email: str) -> int:
    found = (await admin.get("/api/admin/users", params={"q": email})).json()["data"]
    return int(found[0]["id"])


async def test_an_admin_revokes_a_users_leaked_key_and_it_stops_at_once(
    gateway: RunningGateway,
) -> None:
    secret = await gateway.new_key("leaky@example.com", name="laptop")
    async with gateway.client() as admin, gateway.client(secret) as program:
        assert (await program.post("/v1/chat/completions", json=CHAT)).status_code == 200
        user_id = await _user_id(admin, "leaky@example.com")
        listed = (await admin.get(f"/api/admin/users/{user_id}/keys")).json()["data"]
        assert [k["name"] for k in listed] == ["laptop"]
        assert "key" not in listed[0] and secret not in str(listed)  # never the secret

        revoked = await admin.delete(f"/api/admin/users/{user_id}/keys/{listed[0]['id']}")
        assert revoked.status_code == 204
        refused = await program.post("/v1/chat/completions", json=CHAT)
        assert refused.status_code == 401  # at once, whatever the auth cache holds
        assert (await admin.get(f"/api/admin/users/{user_id}/keys")).json()["data"] == []
        again = await admin.delete(f"/api/admin/users/{user_id}/keys/{listed[0]['id']}")
        assert again.status_code == 404
        log = await entries(admin, action="key.revoke", target=f"key:{listed[0]['id']}")
    assert [changes(e) for e in log] == [("key.revoke", {"revoked": False}, {"revoked": True})]
    assert "leaky@example.com" in log[0]["target_name"]


async def test_a_key_is_revoked_only_through_its_own_user(gateway: RunningGateway) -> None:
    await gateway.new_key("first-owner@example.com", name="mine")
    await gateway.create_user("second-owner@example.com")
    async with gateway.client() as admin:
        first = await _user_id(admin, "first-owner@example.com")
        second = await _user_id(admin, "second-owner@example.com")
        [key] = (await admin.get(f"/api/admin/users/{first}/keys")).json()["data"]
        wrong_user = await admin.delete(f"/api/admin/users/{second}/keys/{key['id']}")
        no_user = await admin.get("/api/admin/users/2000000000/keys")
        still = (await admin.get(f"/api/admin/users/{first}/keys")).json()["data"]
    assert wrong_user.status_code == 404
    assert no_user.json()["error"]["code"] == "user_not_found"
    assert [k["id"] for k in still] == [key["id"]]


async def test_users_and_their_keys_cannot_list_or_revoke_others_keys(
    gateway: RunningGateway,
) -> None:
    victim_key = await gateway.new_key("victim@example.com", name="victim")
    attacker_key = await gateway.new_key("attacker@example.com", name="attacker")
    async with gateway.client() as admin:
        victim = await _user_id(admin, "victim@example.com")
        [key] = (await admin.get(f"/api/admin/users/{victim}/keys")).json()["data"]
    path = f"/api/admin/users/{victim}/keys"
    async with (
        gateway.login("attacker@example.com") as browser,
        gateway.client(attacker_key) as program,
    ):
        for client in (browser, program):
            assert (await client.get(path)).status_code == 403
            assert (await client.delete(f"{path}/{key['id']}")).status_code == 403
    async with gateway.client(victim_key) as victim_program:
        assert (await victim_program.post("/v1/chat/completions", json=CHAT)).status_code == 200
