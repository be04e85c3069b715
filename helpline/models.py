"""Typed SQLAlchemy 2.0 models.

Lifecycles are explicit: conversation bot -> waiting -> active -> closed;
escalation open -> acknowledged -> resolved; outbound message
queued -> sending -> sent -> delivered/read, or failed.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, MetaData, String,
                        Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from helpline import crypto


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores UTC, always returns aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class EncryptedText(TypeDecorator):
    """Text encrypted at rest with the configured keys (helpline.crypto)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return crypto.encrypt(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return crypto.decrypt(value) if value is not None else None


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


_ALIAS_ADJ = ["Amber", "Blue", "Calm", "Cedar", "Coral", "Dawn", "Fern", "Golden", "Hazel", "Indigo",
              "Jade", "Kind", "Linen", "Maple", "Olive", "Pearl", "Quiet", "River", "Sage", "Silver"]
_ALIAS_NOUN = ["Crane", "Dove", "Finch", "Heron", "Lark", "Owl", "Robin", "Swift", "Wren", "Kite",
               "Oak", "Pine", "Willow", "Lotus", "Iris", "Reed", "Moss", "Brook", "Stone", "Star"]


def new_alias() -> str:
    return f"{secrets.choice(_ALIAS_ADJ)} {secrets.choice(_ALIAS_NOUN)} {secrets.randbelow(900) + 100}"


class Contact(Base):
    """A person writing to the helpline; staff know them only by `alias`."""

    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # whatsapp | sms | telegram | web | console
    address: Mapped[str | None] = mapped_column(EncryptedText)  # only what sending needs
    alias: Mapped[str] = mapped_column(String(64), default=new_alias)
    language: Mapped[str | None] = mapped_column(String(8))
    language_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    accepts_english: Mapped[bool] = mapped_column(Boolean, default=False)
    region: Mapped[str | None] = mapped_column(String(2))
    state: Mapped[dict] = mapped_column(default=dict)
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_until: Mapped[datetime | None]
    block_reason: Mapped[str | None] = mapped_column(String(200))
    block_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged_abusive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    display_name: Mapped[str | None] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(16))  # volunteer | professional | supervisor
    password_hash: Mapped[str | None] = mapped_column(String(200))
    languages: Mapped[list] = mapped_column(default=list)
    topics: Mapped[list] = mapped_column(default=list)
    max_conversations: Mapped[int] = mapped_column(Integer, default=3)
    trained_until: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    page_via: Mapped[str | None] = mapped_column(String(16))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32))
    oncall: Mapped[dict | None] = mapped_column(JSON)
    rota_position: Mapped[int] = mapped_column(Integer, default=0)
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def public_name(self) -> str:
        return self.display_name or self.name.split()[0]


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (Index("ix_conversation_status_priority", "status", "priority", "queued_at"),
                      Index("ix_conversation_assigned", "assigned_to", "status"),
                      Index("ix_conversation_last_message", "last_message_at"),  # lists, newest first
                      Index("ix_conversation_status_last_message", "status", "last_message_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="bot")  # bot | waiting | active | closed
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 0 normal, 1 medium risk, 2 crisis
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    queued_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    queue_notice: Mapped[dict] = mapped_column(default=dict)
    outcome: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(EncryptedText)
    tags: Mapped[list] = mapped_column(default=list)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact | None] = relationship()


class Message(Base):
    """One inbound or outbound message. Outbound rows exist before they are sent."""

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("channel", "provider_id"),
                      Index("ix_message_contact_pending", "contact_id", "direction", "status"),
                      Index("ix_message_status_created", "status", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # recipient of a page
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"),
                                                       index=True)
    text: Mapped[str | None] = mapped_column(EncryptedText)
    payload: Mapped[dict] = mapped_column(default=dict)  # media, location, button, options
    author: Mapped[str] = mapped_column(String(32), default="contact")  # contact | bot | staff:<id> | system
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    private: Mapped[bool] = mapped_column(Boolean, default=False)  # staff-only note
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class Escalation(Base):
    __tablename__ = "escalation"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8), default="high")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    rota_index: Mapped[int] = mapped_column(Integer, default=0)
    raised_count: Mapped[int] = mapped_column(Integer, default=1)
    next_page_at: Mapped[datetime | None]
    last_paged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pages: Mapped[list["Page"]] = relationship(order_by="Page.id", cascade="all, delete-orphan")


class Page(Base):
    __tablename__ = "page"
    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    via: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # staff:<id> | system | contact:<alias>
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None]
    detail: Mapped[dict] = mapped_column(default=dict)
