"""My usage: `/api/me/quota` and `/api/me/usage.csv`, the caller's rows only."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

import httpx

from gpuchat.core.db import session_scope
from gpuchat.db.models import UsageRow
from gpuchat.db.repositories import users
from gpuchat.services.limits.my_quota import my_quota
from gpuchat.services.limits.quotas import Policy
from tests.utils.gateway import RunningGateway

NOW = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)


async def add_rows(gateway: RunningGateway, email: str, moments: list[datetime]) -> int:
    """One request (in 100, out 20) per moment; returns the user's id."""
    async with session_scope(gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
        assert user is not None
        for at in moments:
            session.add(
                UsageRow(
                    request_id="mine-" + secrets.token_hex(8),
                    user_id=user.id,
                    client="web",
                    model_alias="m",
                    input_tokens=100,
                    output_tokens=20,
                    status_code=200,
                    created=at,
                )
            )
        return user.id


async def test_my_quota_counts_the_utc_day_and_month_with_overrides(
    gateway: RunningGateway,
) -> None:
    email = f"quota-{secrets.token_hex(4)}@example.com"
    other = f"quota-other-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    await gateway.create_user(other)
    today = [NOW - timedelta(hours=1), NOW.replace(hour=0)]
    user_id = await add_rows(
        gateway,
        email,
        [*today, datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 2, 29, 23, 59, tzinfo=UTC)],
    )
    await add_rows(gateway, other, [NOW - timedelta(minutes=5)] * 3)
    defaults = Policy(tokens_per_day=1000, tokens_per_month=300)
    quota = await my_quota(gateway.state.sessions, defaults, {"tokens_per_day": 200}, user_id, NOW)
    assert (quota.day.requests, quota.day.tokens, quota.day.input_tokens) == (2, 240, 200)
    assert quota.day.quota == 200 and quota.day.remaining == 0  # over the quota: 0 left
    assert quota.day.resets_at == datetime(2024, 3, 6, tzinfo=UTC)
    assert (quota.month.requests, quota.month.tokens) == (3, 360)  # Feb 29 is last month
    assert quota.month.quota == 300 and quota.month.remaining == 0
    assert quota.month.start == datetime(2024, 3, 1, tzinfo=UTC)
    assert quota.month.resets_at == datetime(2024, 4, 1, tzinfo=UTC)
    assert quota.limits.tokens_per_day == 200 and quota.limits.tokens_per_month == 300
    unlimited = await my_quota(gateway.state.sessions, Policy(), None, user_id, NOW)
    assert unlimited.day.quota == 0 and unlimited.day.remaining is None


async def test_my_quota_route_shows_the_admins_override_to_a_key_and_a_session(
    gateway: RunningGateway,
) -> None:
    email = f"quota-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email, limits={"tokens_per_day": 1234})
    key = await gateway.new_key(email)
    async with gateway.client(key) as client:
        by_key = await client.get("/api/me/quota")
    async with gateway.login(email) as browser:
        by_session = await browser.get("/api/me/quota")
    async with httpx.AsyncClient(base_url=gateway.url) as nobody:
        anonymous = await nobody.get("/api/me/quota")
    assert by_key.status_code == 200 and by_session.json() == by_key.json()
    day = by_key.json()["day"]
    # A new user: nothing used yet, whatever the date; the admin's override applies.
    assert (day["requests"], day["tokens"], day["quota"], day["remaining"]) == (0, 0, 1234, 1234)
    assert by_key.json()["limits"]["tokens_per_day"] == 1234
    assert anonymous.status_code == 401


async def test_my_usage_csv_holds_only_my_rows(gateway: RunningGateway) -> None:
    email = f"csv-{secrets.token_hex(4)}@example.com"
    other = f"csv-other-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    await gateway.create_user(other)
    moments = [NOW - timedelta(days=n) for n in range(3)]
    user_id = await add_rows(gateway, email, moments)
    await add_rows(gateway, other, moments)
    key = await gateway.new_key(email)
    params = {"from": "2024-03-01", "to": "2024-03-05"}
    async with gateway.client(key) as client:
        response = await client.get("/api/me/usage.csv", params=params)
        smuggled = await client.get("/api/me/usage.csv", params={**params, "user": other})
    async with gateway.login(email) as browser:
        from_browser = await browser.get("/api/me/usage.csv", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="gpuchat-usage-20240301T000000-20240306T000000.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) == 3
    assert {(r["user_id"], r["user_email"]) for r in rows} == {(str(user_id), email)}
    assert smuggled.text == response.text == from_browser.text
