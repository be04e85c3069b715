"""Models and migrations on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from helpline import crypto, migrate
from helpline.config import Config
from helpline.db import Database
from helpline.models import Base, Contact, Conversation, Message


@pytest.fixture
def db(migrated_db):  # type: ignore[no-untyped-def]
    return migrated_db


def test_migrations_reach_head_and_match_the_models(db):
    assert migrate.at_head(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []


def test_upgrade_twice_changes_nothing(db):
    migrate.upgrade(db.url)
    assert migrate.at_head(db.engine)


def test_text_and_address_are_encrypted_at_rest(db):
    with db.session() as s:
        c = Contact(address_hash=crypto.address_hash("sms", "+4915100000301"), channel="sms",
                    address="+4915100000301")
        s.add(c)
        s.flush()
        s.add(Message(direction="in", channel="sms", contact_id=c.id, text="my secret story", status="received"))
    with db.engine.connect() as conn:
        raw = " ".join(str(v) for row in conn.execute(text("SELECT address FROM contact")) for v in row)
        raw += " ".join(str(v) for row in conn.execute(text("SELECT text FROM message")) for v in row)
    assert "4915100000301" not in raw and "secret story" not in raw
    with db.session() as s:
        m = s.scalar(select(Message))
        assert m.text == "my secret story" and m.created_at.tzinfo == timezone.utc


def test_provider_id_is_unique_per_channel(db):
    with db.session() as s:
        s.add(Message(direction="in", channel="sms", provider_id="SM1", status="received"))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.add(Message(direction="in", channel="sms", provider_id="SM1", status="received"))
    with db.session() as s:
        s.add(Message(direction="in", channel="telegram", provider_id="SM1", status="received"))


def test_conversation_defaults(db):
    with db.session() as s:
        conv = Conversation(channel="sms")
        s.add(conv)
        s.flush()
        assert conv.status == "bot" and conv.priority == 0 and conv.tags == []
