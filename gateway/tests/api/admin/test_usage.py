"""Usage reports and the CSV export, on rows written straight into the `requests` table."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

from gpuchat.core.db import session_scope
from gpuchat.db.models import UsageRow
from gpuchat.db.repositories import users
from tests.utils.gateway import RunningGateway

DAY = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)


async def seed_rows(gateway: RunningGateway, model: str, email: str) -> None:
    """Two users; latencies 100..1000 for the first, one error and one client stop."""
    await gateway.create_user(email)
    async with session_scope(gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
        admin = await users.get_user_by_email(session, "admin@example.com")
        assert user is not None and admin is not None
        for n in range(10):
            session.add(
                UsageRow(
                    request_id=f"{model}-{n}",
                    user_id=user.id,
                    client="api",
                    model_alias=model,
                    input_tokens=10,
                    output_tokens=n,
                    ttft_ms=10 * (n + 1),
                    latency_ms=100 * (n + 1),
                    status_code=200,
                    created=DAY + timedelta(hours=n % 2),
                )
            )
        for n, status in enumerate((502, 499)):
            session.add(
                UsageRow(
                    request_id=f"{model}-admin-{n}",
                    user_id=admin.id,
                    client="web",
                    model_alias=model,
                    input_tokens=5,
                    output_tokens=None,
                    status_code=status,
                    created=DAY + timedelta(days=1),
                )
            )


async def test_admin_usage_totals_groups_and_percentiles(gateway: RunningGateway) -> None:
    model = "usage-" + secrets.token_hex(4)
    email = f"{model}@example.com"
    await seed_rows(gateway, model, email)
    async with gateway.client() as client:
        by_user = (
            await client.get("/api/admin/usage", params={"model": model, "group_by": "user"})
        ).json()
        by_hour = (
            await client.get(
                "/api/admin/usage",
                params={
                    "model": model,
                    "group_by": "hour",
                    "from": "2024-03-05",
                    "to": "2024-03-05",
                },
            )
        ).json()
        errors = (
            await client.get("/api/admin/usage", params={"model": model, "status": "error"})
        ).json()
        by_email = (await client.get("/api/admin/usage", params={"user": email.upper()})).json()
        bad = await client.get("/api/admin/usage", params={"from": "yesterday"})
    totals = by_user["totals"]
    assert (totals["requests"], totals["input_tokens"], totals["output_tokens"]) == (12, 110, 45)
    assert totals["errors"] == 1  # 502 counts, a client hang-up (499) does not
    # percentile_cont over 100..1000: p50 = 550, p95 = 955; rows without numbers are left out
    assert totals["latency_ms"] == {"p50": 550.0, "p95": 955.0}
    assert totals["ttft_ms"] == {"p50": 55.0, "p95": 95.5}
    assert [(g["key"], g["requests"]) for g in by_user["groups"]] == [
        (email, 10),
        ("admin@example.com", 2),
    ]
    assert [(g["key"], g["requests"]) for g in by_hour["groups"]] == [
        ("2024-03-05T10:00Z", 5),
        ("2024-03-05T11:00Z", 5),
    ]
    assert errors["totals"]["requests"] == 1
    assert by_email["totals"]["requests"] == 10
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "from"


async def test_usage_is_admin_only_and_me_usage_shows_only_own_rows(
    gateway: RunningGateway,
) -> None:
    model = "usage-" + secrets.token_hex(4)
    email = f"{model}@example.com"
    await seed_rows(gateway, model, email)
    key = await gateway.new_key(email)
    async with gateway.client(key) as client:
        refused = await client.get("/api/admin/usage")
        refused_csv = await client.get("/api/admin/usage.csv")
        mine = (await client.get("/api/me/usage", params={"group_by": "model"})).json()
        by_user = await client.get("/api/me/usage", params={"group_by": "user"})
    assert refused.status_code == 403 and refused_csv.status_code == 403
    assert mine["totals"]["requests"] == 10
    assert [g["key"] for g in mine["groups"]] == [model]
    assert by_user.status_code == 422


async def test_usage_csv_is_formula_safe_and_parses_back(gateway: RunningGateway) -> None:
    model = "csv-" + secrets.token_hex(4)
    hostile = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tx", "\rx", 'a,"b"\nc']
    async with session_scope(gateway.state.sessions) as session:
        for n, text in enumerate(hostile):
            session.add(
                UsageRow(
                    request_id=f"{model}-{n}",
                    client="api",
                    model_alias=model,
                    status_code=200,
                    error_type=text,
                    created=DAY,
                )
            )
    async with gateway.client() as client:
        response = await client.get(
            "/api/admin/usage.csv", params={"model": model, "from": "2024-03-05T00:00:00Z"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="gpuchat-usage-20240305T000000.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["error_type"] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        'a,"b"\nc',
    ]
    assert {r["model"] for r in rows} == {model}
    assert rows[0]["created"].startswith("2024-03-05T10:30:00")
