"""The usage time series (`/api/admin/usage/series`, `/api/me/usage/series`) on known rows
written straight into the `requests` table; explicit ranges, so no test reads the clock."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from gpuchat.core.db import session_scope
from gpuchat.db.models import UsageRow
from gpuchat.db.repositories import users
from tests.utils.gateway import RunningGateway

START = datetime(2023, 7, 9, 10, 0, tzinfo=UTC)
RANGE = {"from": "2023-07-09T09:00:00Z", "to": "2023-07-09T13:00:00Z"}


async def seed(gateway: RunningGateway, tag: str) -> tuple[str, str, str]:
    """Model a: 20 requests at 10:xx (TTFT 10..200 ms, two 500s, one client stop) and one at
    12:05 (in 20, out 7). Model b: one at 12:30 by the admin. One row outside the range."""
    email, a, b = f"{tag}@example.com", f"{tag}-a", f"{tag}-b"
    await gateway.create_user(email)
    async with session_scope(gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
        admin = await users.get_user_by_email(session, "admin@example.com")
        assert user is not None and admin is not None

        def row(n: str, owner: int, model: str, at: datetime, **fields: object) -> None:
            values: dict[str, object] = {"input_tokens": 3, "output_tokens": 2, "status_code": 200}
            values.update(fields)
            session.add(
                UsageRow(
                    request_id=f"{tag}-{n}",
                    user_id=owner,
                    client="api",
                    model_alias=model,
                    created=at,
                    **values,
                )
            )

        for n in range(20):
            status = 500 if n in (3, 4) else 499 if n == 5 else 200
            at = START + timedelta(minutes=2 * n)
            row(f"a{n}", user.id, a, at, ttft_ms=10 * (n + 1), status_code=status)
        row(
            "a-late",
            user.id,
            a,
            START + timedelta(hours=2, minutes=5),
            input_tokens=20,
            output_tokens=7,
        )
        row("b", admin.id, b, START + timedelta(hours=2, minutes=30), ttft_ms=42)
        row("old", user.id, a, START - timedelta(days=3))
    return email, a, b


async def test_series_buckets_by_hour_per_model_with_errors_and_ttft_p95(
    gateway: RunningGateway,
) -> None:
    tag = "series-" + secrets.token_hex(4)
    _, a, b = await seed(gateway, tag)
    async with gateway.client() as client:
        hourly = await client.get("/api/admin/usage/series", params={**RANGE, "bucket": "hour"})
    assert hourly.status_code == 200, hourly.text
    body = hourly.json()
    assert body["bucket"] == "hour" and body["timezone"] == "UTC"
    # Every hour of the range is there, the empty ones too (09:00 and 11:00).
    assert body["buckets"] == [
        "2023-07-09T09:00Z",
        "2023-07-09T10:00Z",
        "2023-07-09T11:00Z",
        "2023-07-09T12:00Z",
    ]
    series = {s["model"]: s for s in body["series"]}
    assert list(series) == [a, b]  # busiest first
    assert series[a]["requests"] == [0, 20, 0, 1]
    assert series[a]["input_tokens"] == [0, 60, 0, 20]
    assert series[a]["output_tokens"] == [0, 40, 0, 7]
    assert series[a]["errors"] == [0, 2, 0, 0]  # the 500s; a client hang-up (499) is no error
    # percentile_cont over 10..200: position 19 * 0.95 = 18.05, so 190 + 0.05 * 10
    assert series[a]["ttft_p95_ms"] == [None, 190.5, None, None]
    assert series[b]["requests"] == [0, 0, 0, 1]
    assert series[b]["ttft_p95_ms"] == [None, None, None, 42.0]


async def test_series_by_day_model_filter_and_open_range(gateway: RunningGateway) -> None:
    tag = "series-" + secrets.token_hex(4)
    email, a, _ = await seed(gateway, tag)
    async with gateway.client() as client:
        daily = await client.get(
            "/api/admin/usage/series",
            params={"from": "2023-07-06", "to": "2023-07-09", "bucket": "day", "model": a},
        )
        # No range: from the first to the last matching row.
        open_range = await client.get(
            "/api/admin/usage/series", params={"bucket": "day", "user": email}
        )
        nothing = await client.get(
            "/api/admin/usage/series", params={"model": "no-such-model-" + tag}
        )
    body = daily.json()
    assert body["buckets"] == ["2023-07-06", "2023-07-07", "2023-07-08", "2023-07-09"]
    assert [(s["model"], s["requests"]) for s in body["series"]] == [(a, [1, 0, 0, 21])]
    assert open_range.json()["buckets"] == body["buckets"]
    assert nothing.json() == {"bucket": "day", "timezone": "UTC", "buckets": [], "series": []}


async def test_series_refuses_a_range_too_long_and_a_bad_bucket(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        too_long = await client.get(
            "/api/admin/usage/series",
            params={"from": "2020-01-01", "to": "2021-01-01", "bucket": "hour"},
        )
        daily = await client.get(
            "/api/admin/usage/series", params={"from": "2020-01-01", "to": "2021-01-01"}
        )
        bad = await client.get("/api/admin/usage/series", params={"bucket": "minute"})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["param"] == "bucket"
    assert daily.status_code == 200 and len(daily.json()["buckets"]) == 367
    assert bad.status_code == 422


async def test_series_is_admin_only_and_mine_holds_only_my_rows(gateway: RunningGateway) -> None:
    tag = "series-" + secrets.token_hex(4)
    email, a, b = await seed(gateway, tag)
    key = await gateway.new_key(email)
    async with gateway.client(key) as client:
        refused = await client.get("/api/admin/usage/series", params=RANGE)
        mine = await client.get("/api/me/usage/series", params={**RANGE, "bucket": "hour"})
        # Asking for the admin's model does not show the admin's row.
        theirs = await client.get("/api/me/usage/series", params={**RANGE, "model": b})
        smuggled = await client.get("/api/me/usage/series", params={**RANGE, "user": "1"})
    async with gateway.login(email) as browser:
        from_browser = await browser.get("/api/admin/usage/series", params=RANGE)
    assert refused.status_code == 403 and from_browser.status_code == 403
    assert [(s["model"], s["requests"]) for s in mine.json()["series"]] == [(a, [0, 20, 0, 1])]
    assert theirs.json()["series"] == []
    assert [s["model"] for s in smuggled.json()["series"]] == [a]  # `user` is not a filter here
