"""Nothing lost when Redis is down; a message handled twice replies once; one contact at a time."""
from __future__ import annotations

import threading

from sqlalchemy import select

from helpline.models import Contact, Message
from helpline.runtime import set_process_runtime
from tests.support import post_twilio, run_jobs, sms, wa
from workers.inbound import process_contact
from workers.scheduler import run_round


def test_redis_down_during_a_burst_loses_nothing(app, client, fakes, redis_server):
    numbers = [f"+49151000004{i:02d}" for i in range(8)]
    redis_server.stop()
    try:
        for n in numbers:
            r = post_twilio(client, sms(n, "Hello"))
            assert r.status_code == 200
    finally:
        redis_server.start()
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        assert len(s.scalars(select(Message).where(Message.status == "received")).all()) == len(numbers)
    set_process_runtime(rt)
    with app.app_context():
        counts = run_round(rt, stuck_inbound_seconds=0)
    assert counts["reenqueued"] == len(numbers)
    run_jobs(app)
    for n in numbers:
        assert len(fakes.messages(n)) == 1
    with app.app_context():
        run_round(rt, stuck_inbound_seconds=0, stuck_queued_seconds=0)  # nothing left to re-enqueue
    run_jobs(app)
    assert len(fakes.messages()) == len(numbers)


def test_processing_twice_replies_once(app, client, fakes):
    post_twilio(client, wa("+4915100000501", "Hello"))
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        cid = s.scalar(select(Contact.id))
    set_process_runtime(rt)
    with app.app_context():
        assert process_contact(cid) == 1
        assert process_contact(cid) == 0
    run_jobs(app)  # the job enqueued by the webhook finds nothing left to do
    assert len(fakes.messages("whatsapp:+4915100000501")) == 1


def test_one_contact_is_processed_in_order_by_concurrent_workers(app, client, fakes):
    number = "+4915100000502"
    post_twilio(client, sms(number, "Hello"))
    for text in ("1", "MENU", "HELP"):
        post_twilio(client, sms(number, text))
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        cid = s.scalar(select(Contact.id))
    set_process_runtime(rt)
    results: list[int] = []

    def work() -> None:
        with app.app_context():
            results.append(process_contact(cid))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(results) == 4
    with rt.db.session() as s:
        rows = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        assert all(m.status == "processed" for m in rows)
        assert [m.processed_at for m in rows] == sorted(m.processed_at for m in rows)
    run_jobs(app)
    texts = [m.text for m in fakes.messages(number)]
    assert len(texts) == 4
    assert "Welcome" in texts[0] and "MENU" in texts[3]  # the HELP answer came last


def test_a_lock_is_kept_while_its_holder_works_past_the_expiry(app):
    """A slow job (the model loading under load) must not lose its contact lock to a second worker."""
    import time

    import pytest

    from workers.locks import LockTimeout, named_lock
    rt = app.extensions["helpline"]
    with named_lock(rt, "slow-job", timeout=1, wait=0):
        time.sleep(2.5)  # well past the 1 s expiry
        with pytest.raises(LockTimeout):
            with named_lock(rt, "slow-job", timeout=1, wait=0):
                pass
    with named_lock(rt, "slow-job", timeout=1, wait=0):  # released at the end: free again
        pass
