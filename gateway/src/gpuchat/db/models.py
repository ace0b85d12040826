"""ORM models: the tables of DESIGN §8, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gpuchat.core.security import Role

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite drops it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
    }


class MessageStatus(StrEnum):
    complete = "complete"
    interrupted = "interrupted"
    error = "error"


class Client(StrEnum):
    web = "web"
    api = "api"
    internal = "internal"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc_identity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.user)
    # None: no password (created by single sign-on); password login and reset refuse it.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The single sign-on identity (the ID token's `iss` and `sub`), once signed in by SSO.
    oidc_issuer: Mapped[str | None] = mapped_column(String(512), default=None)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Per-user overrides of the default rate limits and quotas (admin-set).
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Bumped on password change or reset: every session token issued before is void.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(default=None)
    expires: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, default=None)


class Group(Base):
    """A set of users with the models they may use and their limits (admin-set). A user in
    several groups gets the most generous of them; see services/accounts/groups.py."""

    __tablename__ = "user_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Profile names or aliases; empty: every model.
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Overrides of the default limits, like `User.limits` (None: the defaults).
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class GroupMember(Base):
    __tablename__ = "user_group_members"
    __table_args__ = (Index("ix_user_group_members_user_id", "user_id"),)

    group_id: Mapped[int] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class RevokedSession(Base):
    """A session token ended by logout before its expiry (kept until then)."""

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the token's jti
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires: Mapped[datetime] = mapped_column(index=True)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(128), default="default")
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # A reasoning model's thinking (never sent back to the model in later turns).
    reasoning: Mapped[str | None] = mapped_column(Text, default=None)
    reasoning_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.complete)
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    # The profile that answered (an assistant message; unknown for answers before 0009).
    profile: Mapped[str | None] = mapped_column(String(64), default=None)
    token_in: Mapped[int | None] = mapped_column(Integer, default=None)
    token_out: Mapped[int | None] = mapped_column(Integer, default=None)
    ttft_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackRating(StrEnum):
    up = "up"
    down = "down"


class Feedback(Base):
    """A user's thumbs up or down, and an optional comment, on one answer of their own."""

    __tablename__ = "message_feedback"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        Index("ix_message_feedback_created", "created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text, default="")
    # What answered, copied from the message (kept for the admin's filters).
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    profile: Mapped[str | None] = mapped_column(String(64), default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class UsageRow(Base):
    """One row per upstream request, whatever its end (table `requests`)."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_created", "created"),
        Index("ix_requests_user_created", "user_id", "created"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # The gateway's own id (the client's X-Request-Id is only `client_request_id`).
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    client: Mapped[str] = mapped_column(String(16))
    model_alias: Mapped[str] = mapped_column(String(128))
    profile: Mapped[str | None] = mapped_column(String(64), default=None)
    engine: Mapped[str | None] = mapped_column(String(16), default=None)
    ctx_len: Mapped[int | None] = mapped_column(Integer, default=None)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    ttft_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    queue_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    status_code: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(64), default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Benchmark(Base):
    __tablename__ = "benchmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), index=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class ForbiddenWord(Base):
    """The admin-edited forbidden-word list: a user message containing one is refused."""

    __tablename__ = "forbidden_words"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class RuntimeSetting(Base):
    """A choice made at run time that outlives the process: the active profile (so a
    restart, or another replica, keeps the model the admin switched to)."""

    __tablename__ = "runtime_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One admin action (`services/audit`): who, when, what, on what, and what changed.
    `actor_email` is the email at that time (the user may change or go); `before` and
    `after` hold only the fields that changed, never a secret."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created"),
        Index("ix_audit_log_action_created", "action", "created"),
        Index("ix_audit_log_actor_created", "actor_id", "created"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    actor_email: Mapped[str] = mapped_column(String(320))  # or "cli" for `gpuchat ...`
    action: Mapped[str] = mapped_column(String(64))  # a stable dotted code: `user.role`
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128), default=None)
    target_name: Mapped[str | None] = mapped_column(String(320), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client_ip: Mapped[str | None] = mapped_column(String(64), default=None)


class ProfileDefinition(Base):
    """One model profile as an administrator wrote it (the fields set, validated by
    engines/profiles.py `Profile`). Seeded once from profiles.yaml; the source of truth
    after that (docs/operations.md, "Profiles")."""

    __tablename__ = "profile_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)  # the list's order
    name: Mapped[str] = mapped_column(String(63), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class ProfileSetRevision(Base):
    """The profile set's revision: one row (id 1), raised in the transaction of every
    change to `profile_definitions`. Raising it locks the row, so concurrent changes from
    several gateway processes run one after the other; the supervisor keeps the highest
    revision it was sent (engines/design.md, "Profile sets from the database")."""

    __tablename__ = "profile_set_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
