"""The admin's feedback list and CSV: filters, pages, the turn each is about, admin only."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

from gpuchat.core.db import session_scope
from gpuchat.db.models import Conversation, Feedback, Message
from gpuchat.db.repositories import users
from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway

DAY = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)


async def seed(gateway: RunningGateway, model: str, ratings: list[tuple[str, str, str]]) -> str:
    """One turn per (rating, comment, profile), a day apart from DAY; returns the user's email."""
    email = f"{model}@example.com"
    await gateway.create_user(email)
    async with session_scope(gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
        assert user is not None
        conversation = Conversation(user_id=user.id, model=model)
        session.add(conversation)
        await session.flush()
        for n, (rating, comment, profile) in enumerate(ratings):
            question = Message(conversation_id=conversation.id, role="user", content=f"q{n}")
            session.add(question)
            await session.flush()
            answer = Message(
                conversation_id=conversation.id,
                parent_id=question.id,
                role="assistant",
                content=f"a{n} " + "z" * 1500,
                model=model,
                profile=profile,
            )
            session.add(answer)
            await session.flush()
            moment = DAY + timedelta(days=n)
            session.add(
                Feedback(
                    message_id=answer.id,
                    conversation_id=conversation.id,
                    user_id=user.id,
                    rating=rating,
                    comment=comment,
                    model=model,
                    profile=profile,
                    created=moment,
                    updated=moment,
                )
            )
    return email


async def test_admin_feedback_filters_and_pages(gateway: RunningGateway) -> None:
    model = "fb-" + secrets.token_hex(4)
    email = await seed(
        gateway,
        model,
        [("up", "", "p1"), ("down", "too long", "p1"), ("down", "", "p2"), ("up", "nice", "p2")],
    )

    async def listed(**params: object) -> dict[str, object]:
        async with gateway.client() as admin:
            response = await admin.get("/api/admin/feedback", params={"model": model, **params})
        assert response.status_code == 200, response.text
        page: dict[str, object] = response.json()
        return page

    def questions(page: dict[str, object]) -> list[str]:
        rows = page["data"]
        assert isinstance(rows, list)
        return [row["question"] for row in rows]

    everything = await listed()
    assert questions(everything) == ["q3", "q2", "q1", "q0"]  # newest first
    assert (everything["total"], everything["up"]) == (4, 2)
    first = everything["data"][0]  # type: ignore[index]
    assert (first["user_email"], first["rating"], first["comment"]) == (email, "up", "nice")
    assert (first["model"], first["profile"]) == (model, "p2")
    assert first["answer"] == ("a3 " + "z" * 1500)[:1000]  # the beginning; the CSV has it all
    assert questions(await listed(rating="down")) == ["q2", "q1"]
    assert questions(await listed(profile="p1")) == ["q1", "q0"]
    assert questions(await listed(has_comment="true")) == ["q3", "q1"]
    assert questions(await listed(has_comment="false")) == ["q2", "q0"]
    # a bare date as the end includes that whole day
    assert questions(await listed(**{"from": "2024-03-06", "to": "2024-03-07"})) == ["q2", "q1"]
    paged = await listed(limit=2, offset=2)
    assert questions(paged) == ["q1", "q0"] and paged["total"] == 4
    assert (await listed(model="fb-nobody"))["total"] == 0
    async with gateway.client() as admin:
        bad = [
            await admin.get("/api/admin/feedback", params={"rating": "meh"}),
            await admin.get("/api/admin/feedback", params={"from": "yesterday"}),
            await admin.get("/api/admin/feedback", params={"limit": 0}),
        ]
    assert [r.status_code for r in bad] == [422, 422, 422]


async def test_admin_feedback_csv_has_the_whole_turn_and_is_formula_safe(
    gateway: RunningGateway,
) -> None:
    model = "fbcsv-" + secrets.token_hex(4)
    hostile = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", 'a,"b"\nc']
    await seed(gateway, model, [("down", text, "p") for text in hostile])
    async with gateway.client() as admin:
        response = await admin.get(
            "/api/admin/feedback.csv", params={"model": model, "from": "2024-03-05T00:00:00Z"}
        )
        only_up = await admin.get(
            "/api/admin/feedback.csv", params={"model": model, "rating": "up"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="gpuchat-feedback-20240305T000000.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["comment"] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-3",
        "'@SUM(A1)",
        'a,"b"\nc',
    ]
    assert [r["question"] for r in rows] == ["q0", "q1", "q2", "q3", "q4"]  # oldest first
    assert rows[0]["answer"] == "a0 " + "z" * 1500  # whole
    assert {(r["rating"], r["model"], r["profile"]) for r in rows} == {("down", model, "p")}
    assert list(csv.reader(io.StringIO(only_up.text))) == [list(rows[0].keys())]  # header only


async def test_feedback_from_the_chat_names_the_profile_that_answered(
    gateway: RunningGateway,
) -> None:
    email = f"rater-{secrets.token_hex(4)}@example.com"
    await gateway.create_user(email)
    async with gateway.login(email) as browser:
        result = await chat(browser, {"content": "which engine?", "model": "fake-model"})
        cid = result.one("start")["conversation_id"]
        answer = result.one("done")["assistant_message_id"]
        await browser.put(
            f"/api/conversations/{cid}/messages/{answer}/feedback",
            json={"rating": "down", "comment": "=cmd"},
        )
    async with gateway.client() as admin:
        rows = (await admin.get("/api/admin/feedback", params={"model": "fake-model"})).json()
    mine = [row for row in rows["data"] if row["message_id"] == answer]
    assert len(mine) == 1
    assert (mine[0]["profile"], mine[0]["question"]) == ("fake", "which engine?")
    assert mine[0]["comment"] == "=cmd"  # JSON is not a spreadsheet: stored and shown as typed


async def test_feedback_admin_routes_refuse_non_admins(gateway: RunningGateway) -> None:
    email = f"plain-{secrets.token_hex(4)}@example.com"
    key = await gateway.new_key(email)
    async with gateway.client(key) as program:
        by_key = [
            await program.get(path) for path in ("/api/admin/feedback", "/api/admin/feedback.csv")
        ]
    async with gateway.login(email) as browser:
        by_session = await browser.get("/api/admin/feedback.csv", params={"rating": "down"})
    for response in (*by_key, by_session):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "admin_required"
