"""Storing an inbound message: the webhooks' hot path, as SQL written for SQLite and for PostgreSQL
and run on the DB-API connection of a pool in autocommit mode.

SQLAlchemy's Core execution (statement cache, parameter and result objects, a BEGIN and a COMMIT,
PostgreSQL's pre-ping) was most of a webhook's database time. Here a message from a known contact is
one INSERT ... SELECT that commits by itself (on PostgreSQL one round trip, six before; SQLite looks
the contact up first, outside its write lock); a new contact is one more statement (PostgreSQL: the
contact inserted in a CTE of the same statement; SQLite: a BEGIN IMMEDIATE transaction of two
inserts). Values go through the column types' own bind processors, so rows are stored exactly as the
models would store them (text and address encrypted, UTC datetimes, JSON). A provider id stored
before is skipped by the unique constraint (ON CONFLICT DO NOTHING): nothing is stored and store()
returns None.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import weakref
from typing import Any, Iterator

from sqlalchemy import Table, exc
from sqlalchemy.engine import Engine

from helpline import crypto
from helpline.db import make_engine
from helpline.inbound import InboundMessage
from helpline.models import Contact, Message, new_alias

_MESSAGE = ("direction", "channel", "provider_id", "text", "payload", "author", "status", "created_at",
            "attempts", "private")
_CONTACT = ("address_hash", "channel", "address", "alias", "region", "state", "language_confirmed",
            "accepts_english", "unsubscribed", "unreachable", "block_notified", "flagged_abusive",
            "created_at", "last_seen_at")
ATTEMPTS = 3  # a contact created or erased by another request meanwhile, a connection dropped


class InboundStore:
    """One per process (Runtime.inbound): its own small autocommit pool and the statements for it."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url, autocommit=True)
        dialect = self.engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):
            raise RuntimeError(f"inbound messages are stored with SQL for SQLite and PostgreSQL, "
                               f"not {dialect.name}")
        self._pg = dialect.name == "postgresql"
        self._writers = None if self._pg else _Writers(self.engine.url.database or "")
        self._dbapi: Any = dialect.loaded_dbapi
        m, c = Message.__table__, Contact.__table__
        self._procs = {**self._processors(m, "m_", _MESSAGE), **self._processors(c, "c_", _CONTACT)}
        m_cols, c_cols = ", ".join(_MESSAGE) + ", contact_id", ", ".join(_CONTACT)
        m_vals = ", ".join(self._param(m, "m_", col) for col in _MESSAGE)
        c_vals = ", ".join(self._param(c, "c_", col) for col in _CONTACT)
        address_hash = self._param(c, "c_", "address_hash")
        on_message = "ON CONFLICT (channel, provider_id) DO NOTHING RETURNING id, contact_id"
        self._known = (f"INSERT INTO message ({m_cols}) SELECT {m_vals}, id FROM contact "
                       f"WHERE address_hash = {address_hash} {on_message}")
        insert_contact = (f"INSERT INTO contact ({c_cols}) VALUES ({c_vals}) "
                          f"ON CONFLICT (address_hash) DO NOTHING")
        if self._pg:
            # the CTEs see the statement's snapshot: a new contact comes from RETURNING, an old one from
            # the table; one committed by another statement after this one began from neither: no row,
            # and store() tries again
            self._new = (f"WITH new AS ({insert_contact} RETURNING id), found AS (SELECT id FROM new "
                         f"UNION ALL SELECT id FROM contact WHERE address_hash = {address_hash}) "
                         f"INSERT INTO message ({m_cols}) SELECT {m_vals}, id FROM found LIMIT 1 "
                         f"{on_message}")
        else:
            self._new = insert_contact
        self._has_contact = f"SELECT 1 FROM contact WHERE address_hash = {address_hash}"
        self._stored = (f"SELECT 1 FROM message WHERE channel = {self._param(m, 'm_', 'channel')} "
                        f"AND provider_id = {self._param(m, 'm_', 'provider_id')}")

    def _param(self, table: Table, prefix: str, column: str) -> str:
        if not self._pg:
            return f":{prefix}{column}"
        # PostgreSQL types the values of an INSERT ... SELECT from the cast, not from the column; no length,
        # so a value too long for its column is refused as with a plain INSERT, not cut
        cast = self.engine.dialect.type_compiler_instance.process(table.c[column].type)
        return f"%({prefix}{column})s::{re.sub(r'[(].*[)]', '', cast)}"

    def _processors(self, table: Table, prefix: str, columns: tuple[str, ...]) -> dict[str, Any]:
        dialect = self.engine.dialect
        return {prefix + col: table.c[col].type.dialect_impl(dialect).bind_processor(dialect)
                for col in columns}

    def _bind(self, values: dict[str, Any]) -> dict[str, Any]:
        procs = self._procs
        return {k: v if procs[k] is None or v is None else procs[k](v) for k, v in values.items()}

    def store(self, msg: InboundMessage, default_region: str) -> tuple[int, int] | None:
        """Stores and commits the message; (message id, contact id), or None if its provider id was stored
        before. Database errors come as SQLAlchemy's (OperationalError: the app answers 503)."""
        address_hash = crypto.address_hash(msg.channel, msg.address)
        message = self._bind(_message_values(msg))
        message["c_address_hash"] = address_hash
        contact: dict[str, Any] | None = None
        for attempt in range(ATTEMPTS):
            raw = cursor = None
            try:
                raw = self.engine.raw_connection()
                cursor = raw.cursor()
                rows: list[Any] = []
                # PostgreSQL tries the insert at once (a round trip saved); SQLite asks first, as any INSERT
                # takes its one write lock, and waiting writers poll for it in SQLite's busy handler
                if self._pg:
                    rows = cursor.execute(self._known, message).fetchall()
                elif cursor.execute(self._has_contact, message).fetchall():
                    with self._writers.turn():  # type: ignore[union-attr]
                        rows = cursor.execute(self._known, message).fetchall()
                if rows:
                    return rows[0][0], rows[0][1]
                # a new contact, or the message was stored before (a provider's retry)
                if contact is None:
                    contact = self._bind(_contact_values(msg, address_hash, default_region))
                if self._pg:
                    rows = cursor.execute(self._new, {**message, **contact}).fetchall()
                else:
                    with self._writers.turn():  # type: ignore[union-attr]
                        cursor.execute("BEGIN IMMEDIATE")
                        cursor.execute(self._new, contact)
                        rows = cursor.execute(self._known, message).fetchall()
                        if rows:
                            raw.commit()
                        else:
                            raw.rollback()
                if rows:
                    return rows[0][0], rows[0][1]
                if msg.provider_id and cursor.execute(self._stored, message).fetchall():
                    return None
                # PostgreSQL: the same contact created by a statement that committed after this one began;
                # the next attempt finds it
            except self._dbapi.Error as e:  # raw: the connection is not SQLAlchemy's to clean up
                gone = raw is not None and self.engine.dialect.is_disconnect(e, raw.dbapi_connection, cursor)
                if gone:
                    raw.invalidate(e)
                    self.engine.dispose()  # the other pooled connections went with the server
                if attempt + 1 < ATTEMPTS and (gone or isinstance(e, self._dbapi.IntegrityError)):
                    continue  # the contact erased meanwhile, or a fresh connection
                raise exc.DBAPIError.instance(None, None, e, self._dbapi.Error, hide_parameters=True,
                                              connection_invalidated=gone, dialect=self.engine.dialect) from e
            finally:
                if cursor is not None:
                    cursor.close()
                if raw is not None:
                    raw.close()
        raise RuntimeError("an inbound message could not be stored (its contact kept changing)")

    def close(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


class _Writers:
    """Webhook threads and processes take turns to write to SQLite, woken as soon as the turn is theirs.

    SQLite has one write lock, and a writer that finds it taken sleeps in its busy handler: 1 ms, then 2,
    5, 10 ... while the lock is held for a tenth of a millisecond. Under a burst most of the web process's
    time went to these sleeps (strace: ~2 sleeps a webhook) and a neighbour's process took the cores
    meanwhile. Here threads queue on a lock and processes on an flock of a file beside the database;
    the workers' writes still meet SQLite's own lock."""

    def __init__(self, database: str) -> None:
        self._path = database + "-writers.lock" if database and database != ":memory:" else ""
        self._forked()
        _ALL_WRITERS.add(self)

    def _forked(self) -> None:
        """A new process (or a new object) starts with its own lock and its own open file: a forked child
        must not share its parent's, nor inherit a lock a parent's thread held at the fork."""
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)  # the parent's file: closing it here leaves the parent's flock alone
        self._thread = threading.Lock()
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600) if self._path else -1

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._thread:
            if self._fd >= 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if self._fd >= 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_ALL_WRITERS: weakref.WeakSet[_Writers] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [w._forked() for w in list(_ALL_WRITERS)])


def _message_values(msg: InboundMessage) -> dict[str, Any]:
    payload: dict = {}
    if msg.media:
        payload["media"] = msg.media
    if msg.location:
        payload["location"] = msg.location
    if msg.button:
        payload["button"] = msg.button
    if msg.callback_id:
        payload["callback_id"] = msg.callback_id
    if msg.profile_language:
        payload["profile_language"] = msg.profile_language
    return {"m_direction": "in", "m_channel": msg.channel, "m_provider_id": msg.provider_id,
            "m_text": msg.text, "m_payload": payload, "m_author": "contact", "m_status": "received",
            "m_created_at": msg.received_at, "m_attempts": 0, "m_private": False}


def _contact_values(msg: InboundMessage, address_hash: str, default_region: str) -> dict[str, Any]:
    # a phone number's region is worked out when it is first needed (helpline.inbound.contact_region)
    region = None if msg.channel in ("sms", "whatsapp") else default_region
    return {"c_address_hash": address_hash, "c_channel": msg.channel, "c_address": msg.address,
            "c_alias": new_alias(), "c_region": region, "c_state": {}, "c_language_confirmed": False,
            "c_accepts_english": False, "c_unsubscribed": False, "c_unreachable": False,
            "c_block_notified": False, "c_flagged_abusive": False, "c_created_at": msg.received_at,
            "c_last_seen_at": msg.received_at}
