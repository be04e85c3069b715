"""Storing inbound messages with raw SQL, on SQLite and PostgreSQL: rows as the models store them."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from helpline import crypto
from helpline.inbound import InboundMessage, contact_region
from helpline.inbound_store import InboundStore
from helpline.models import Contact, Message


@pytest.fixture
def store(migrated_db):  # type: ignore[no-untyped-def]
    s = InboundStore(migrated_db.url)
    yield s
    s.close()


def _msg(provider_id: str, address: str = "+4915100000401", **kw: object) -> InboundMessage:
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    return InboundMessage(channel="whatsapp", address=address, text="Wo finde ich einen Anwalt?",
                          provider_id=provider_id, received_at=at, **kw)  # type: ignore[arg-type]


def test_a_new_contact_and_its_message_read_back_through_the_models(migrated_db, store):
    msg = _msg("SM401", location={"lat": "52.5", "lon": "13.4", "label": ""}, button="yes")
    message_id, contact_id = store.store(msg, "DE")
    with migrated_db.session() as s:
        m, c = s.get(Message, message_id), s.get(Contact, contact_id)
        assert (m.direction, m.channel, m.provider_id, m.contact_id, m.status, m.author) == \
            ("in", "whatsapp", "SM401", contact_id, "received", "contact")
        assert m.text == "Wo finde ich einen Anwalt?" and m.attempts == 0 and m.private is False
        assert m.payload == {"location": {"lat": "52.5", "lon": "13.4", "label": ""}, "button": "yes"}
        assert m.created_at == msg.received_at and m.created_at.tzinfo == timezone.utc
        assert c.address == "+4915100000401" and c.channel == "whatsapp"
        assert c.region is None and contact_region(c, "FR") == "DE" == c.region  # from the number, when needed
        assert c.address_hash == crypto.address_hash("whatsapp", "+4915100000401")
        assert c.state == {} and c.unsubscribed is False and c.created_at == msg.received_at and c.alias
        # stored as the models store a datetime: comparisons in SQL find it (SQLite compares text)
        assert s.scalar(select(Message.id).where(Message.created_at == msg.received_at)) == message_id
        assert s.scalar(select(func.count()).where(Message.created_at < msg.received_at + timedelta(
            microseconds=1))) == 1


def test_a_known_contact_gets_the_message_and_a_stored_provider_id_is_skipped(migrated_db, store):
    first = store.store(_msg("SM402"), "DE")
    second = store.store(_msg("SM403"), "DE")
    assert second[1] == first[1] and second[0] != first[0]
    assert store.store(_msg("SM402"), "DE") is None  # a provider's retry
    assert store.store(_msg("SM404", address="+4915100000499"), "DE")[1] != first[1]
    assert store.store(_msg("SM404", address="+4915100000499"), "DE") is None  # a retry, new contact path
    with migrated_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 3
        assert s.scalar(select(func.count()).select_from(Contact)) == 2


def test_first_messages_of_one_contact_at_once_make_one_contact(migrated_db, store):
    results: list[tuple[int, int] | None] = []
    start = threading.Barrier(8)

    def send(i: int) -> None:
        start.wait()
        results.append(store.store(_msg(f"SM41{i}", address="+4915100000410"), "DE"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len({r[1] for r in results if r}) == 1
    with migrated_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1
        assert s.scalar(select(func.count()).select_from(Message)) == 8


def test_a_value_too_long_is_refused_not_cut(migrated_db, store):
    if migrated_db.is_sqlite:
        pytest.skip("SQLite does not enforce lengths")
    with pytest.raises(DBAPIError):
        store.store(_msg("S" * 65), "DE")
    with migrated_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_sqlite_writers_take_turns_across_threads_and_processes(tmp_path):
    """A webhook writer waits for its turn on a lock (woken when it comes), not in SQLite's busy handler."""
    import fcntl
    import multiprocessing
    import threading

    from helpline.inbound_store import _Writers

    writers = _Writers(str(tmp_path / "helpline.db"))
    inside, most = [0], [0]

    def write() -> None:
        for _ in range(200):
            with writers.turn():
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1

    # a process forked while a thread has its turn: its own lock and file, and the parent's turn keeps it out
    ctx = multiprocessing.get_context("fork")
    entered = ctx.Event()

    def child() -> None:
        with writers.turn():
            entered.set()

    with writers.turn():
        p = ctx.Process(target=child)
        p.start()
        assert not entered.wait(0.5)
    p.join(10)
    assert entered.is_set() and p.exitcode == 0
    fd = os.open(str(tmp_path / "helpline.db-writers.lock"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: nobody holds it now
    os.close(fd)
