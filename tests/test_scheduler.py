"""The scheduler re-enqueues stored rows whose jobs were lost, but a row at most once a minute."""
from __future__ import annotations

from sqlalchemy import select

from helpline.models import Message
from helpline.runtime import set_process_runtime
from tests.support import post_twilio, run_jobs, sms
from workers.scheduler import REENQUEUE_EVERY_SECONDS, run_round


def _round(app):  # type: ignore[no-untyped-def]
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    with app.app_context():
        return run_round(rt, stuck_inbound_seconds=0, stuck_queued_seconds=0)["reenqueued"]


def _queued_jobs(redis_client) -> int:  # type: ignore[no-untyped-def]
    from rq import Queue
    return sum(Queue(q, connection=redis_client).count for q in ("crisis", "high", "default", "low"))


def test_a_waiting_contact_is_reenqueued_once_a_minute_not_every_round(app, client, redis_client):
    post_twilio(client, sms("+4915100002001", "Hello"))
    app.extensions["helpline"].flush_announcements()
    redis_client.delete("helpline:inbound")  # the dispatch notice is lost: only the scheduler can find it
    assert _round(app) == 1
    for _ in range(3):  # the job waits behind a backlog: no more copies of it
        assert _round(app) == 0
    assert _queued_jobs(redis_client) == 1
    marks = redis_client.keys("helpline:reenqueued:*")
    assert len(marks) == 1 and 0 < redis_client.ttl(marks[0]) <= REENQUEUE_EVERY_SECONDS


def test_a_lost_job_is_reenqueued_when_its_mark_expires(app, client, fakes, redis_client):
    post_twilio(client, sms("+4915100002002", "Hello"))
    app.extensions["helpline"].flush_announcements()
    redis_client.delete("helpline:inbound")
    assert _round(app) == 1
    for key in redis_client.keys("rq:queue:*"):  # the job is lost (a worker killed while it ran it)
        redis_client.delete(key)
    assert _round(app) == 0
    for key in redis_client.keys("helpline:reenqueued:*"):  # a minute later
        redis_client.delete(key)
    assert _round(app) == 1
    run_jobs(app)
    assert len(fakes.messages("+4915100002002")) == 1


def test_a_reply_lost_with_redis_is_reenqueued_at_once(app, client, fakes, redis_client, monkeypatch):
    post_twilio(client, sms("+4915100002003", "Hello"))
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    with app.app_context():
        import workers.inbound
        from workers.dispatch import dispatch_pending
        from workers.inbound import process_contact
        # the worker stops right after its commit, before it sends the reply itself: the job is what is left
        monkeypatch.setattr(workers.inbound, "_send_now", lambda ids: None)
        dispatch_pending(rt)
        with rt.db.session() as s:
            process_contact(s.scalar(select(Message.contact_id)))
    assert _round(app) == 1  # the reply row: its job may wait behind a backlog
    assert _round(app) == 0
    redis_client.flushall()  # Redis restarted empty: jobs and marks are gone together
    assert _round(app) == 1
    run_jobs(app)
    assert len(fakes.messages("+4915100002003")) == 1
    assert _round(app) == 0
