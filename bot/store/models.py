"""The database tables. The schema itself is created only by Alembic (migrations/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # SQLAlchemy reads this mapping once, at class creation.
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class Guild(Base):
    """A Discord server, a Slack workspace, or the console: data never crosses guilds."""

    __tablename__ = "guilds"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    # Per-guild choices an instructor makes (instructor role name, extra blocked words, ...).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class User(Base):
    """A person as seen in one guild (the roster is everyone who used the bot there)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("guild_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="student")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_guild_closes", "guild_id", "closes_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Where the announcement went, so reminders and the closing message can follow it.
    destination: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Submission(Base):
    """A student's latest answer; every earlier version stays in submission_versions."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("activity_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SubmissionVersion(Base):
    __tablename__ = "submission_versions"
    __table_args__ = (UniqueConstraint("submission_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Job(Base):
    """The system of record for inference work: the queue reads and writes only this."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_created", "state", "created_at"),
        Index("ix_jobs_user_state", "user_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    progress_step: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_label: Mapped[str] = mapped_column(String(200), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class UsageEvent(Base):
    """What someone ran (and which model, how big): the activity export reads these."""

    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_guild_user_time", "guild_id", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    command: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str | None] = mapped_column(String(200))
    model_params: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Prompts and their outcomes (e.g. /imagine refusals) that instructors can review."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_guild_time", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class GuessRound(Base):
    """One round of the guess-the-task game in a channel."""

    __tablename__ = "guess_rounds"
    __table_args__ = (Index("ix_guess_channel", "guild_id", "channel_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    revealed_at: Mapped[datetime | None]


class GuessAnswer(Base):
    __tablename__ = "guess_answers"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("guess_rounds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str] = mapped_column(String(64))
    correct: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class InboxEntry(Base):
    """A command saved before its platform was told it arrived (bot/inbox.py): replayed
    after a restart until `done_at` is set. The platform's request id makes it idempotent."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "request_id"),
        Index("ix_inbox_pending", "platform", "done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(128))
    # The command path as typed ("activity submit"), for people reading the table.
    command: Mapped[str] = mapped_column(String(200))
    invocation: Mapped[dict[str, Any]] = mapped_column()
    destination: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    # The bot process that runs it (accepted it, or took it over) and until when that claim
    # holds unless renewed: with replicas on one database, an entry runs in one process, and
    # the entries of a process that died are taken over (bot/inbox.py).
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
