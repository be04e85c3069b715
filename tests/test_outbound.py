"""Sending: retries with backoff on 5xx / 429 / timeouts, none on permanent 4xx, never twice per row."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from helpline.errors import ProviderError
from helpline.models import Contact, Message
from helpline.outbox import queue_text
from helpline.runtime import set_process_runtime
from helpline.senders import split_text
from tests.support import run_jobs
from workers.outbound import deliver


def _contact(app, channel: str = "sms", address: str = "+4915100000201") -> int:  # type: ignore[no-untyped-def]
    from helpline import crypto
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        c = Contact(address_hash=crypto.address_hash(channel, address), channel=channel, address=address,
                    language="en", region="DE")
        s.add(c)
        s.flush()
        return c.id


def _queue(app, contact_id: int, text: str = "hello") -> int:  # type: ignore[no-untyped-def]
    rt = app.extensions["helpline"]
    with app.app_context(), rt.db.session() as s:
        msg = queue_text(s, s.get(Contact, contact_id), text)
        s.info.pop("after_commit", None)  # the test runs the job itself
        return msg.id


def _row(app, mid: int) -> Message:  # type: ignore[no-untyped-def]
    with app.extensions["helpline"].db.session() as s:
        return s.get(Message, mid)


def _deliver(app, mid: int) -> str:  # type: ignore[no-untyped-def]
    set_process_runtime(app.extensions["helpline"])
    with app.app_context():
        return deliver(mid)


def test_sent_once_with_status_callback(app, fakes):
    mid = _queue(app, _contact(app))
    assert _deliver(app, mid) == "sent"
    assert _deliver(app, mid) == "sent"  # a re-run job finds the row sent and sends nothing
    sent = fakes.messages("+4915100000201")
    assert len(sent) == 1
    assert sent[0].params["StatusCallback"] == "https://helpline.test/webhooks/twilio/status"
    row = _row(app, mid)
    assert row.status == "sent" and row.provider_id.startswith("SM") and row.attempts == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_failure_is_retried_and_sent_once(app, fakes, status):
    mid = _queue(app, _contact(app))
    fakes.fail_next(status, times=2)
    for _ in range(2):
        with pytest.raises(ProviderError) as e:
            _deliver(app, mid)
        assert not e.value.permanent
        assert _row(app, mid).status == "queued"
    assert _deliver(app, mid) == "sent"
    assert len(fakes.messages("+4915100000201")) == 1
    assert _row(app, mid).attempts == 3


def test_permanent_failure_is_not_retried(app, fakes):
    mid = _queue(app, _contact(app))
    fakes.fail_next(400, code=21211)
    assert _deliver(app, mid) == "failed"
    row = _row(app, mid)
    assert (row.status, row.error_code) == ("failed", "21211")
    assert _deliver(app, mid) == "failed"
    assert fakes.attempts == 1


def test_twilio_unsubscribed_recipient_marks_contact_unreachable(app, fakes):
    cid = _contact(app)
    mid = _queue(app, cid)
    fakes.fail_next(400, code=21610)
    assert _deliver(app, mid) == "failed"
    with app.extensions["helpline"].db.session() as s:
        assert s.get(Contact, cid).unreachable
    assert _queue_or_none(app, cid) is None  # nothing more is queued for an unreachable contact


def _queue_or_none(app, cid):  # type: ignore[no-untyped-def]
    rt = app.extensions["helpline"]
    with app.app_context(), rt.db.session() as s:
        return queue_text(s, s.get(Contact, cid), "more")


def test_telegram_blocked_marks_unreachable(app, fakes):
    cid = _contact(app, "telegram", "900000777")
    mid = _queue(app, cid)
    fakes.fail_next(403, description="Forbidden: bot was blocked by the user")
    assert _deliver(app, mid) == "failed"
    with app.extensions["helpline"].db.session() as s:
        assert s.get(Contact, cid).unreachable
        assert s.get(Message, mid).error_code == "403"


def test_telegram_retry_after_is_honoured(app, fakes):
    cid = _contact(app, "telegram", "900000778")
    mid = _queue(app, cid)
    fakes.fail_next(429, retry_after=1)
    with pytest.raises(ProviderError) as e:
        _deliver(app, mid)
    assert e.value.retry_after == 1
    assert _row(app, mid).payload["not_before"] > 0
    # the re-run job does not sleep through retry_after in a worker: it hands the row to a job due then
    assert _deliver(app, mid) == "deferred"
    assert _row(app, mid).status == "queued"
    assert _later_jobs(app) == [mid]
    run_jobs(app)
    assert _row(app, mid).status == "sent"
    sends = [s for s in fakes.sent if s.method == "sendMessage"]
    assert len(sends) == 1


def _later_jobs(app) -> list[int]:  # type: ignore[no-untyped-def]
    """The rows whose send jobs are scheduled for their turn."""
    from workers.outbound import LATER_JOB
    rt = app.extensions["helpline"]
    return sorted(int(j.split("-")[2]) for q in ("crisis", "high")
                  for j in rt.queue(q).scheduled_job_registry.get_job_ids() if j.startswith(LATER_JOB))


def test_telegram_chat_gets_a_burst_then_one_a_second_without_a_worker_waiting(app, fakes):
    """Telegram: about one message a second to one chat, after a short burst. A worker never sleeps for the
    pace: the rows past the burst are handed to a job due when their turn comes, and go out in order."""
    cid = _contact(app, "telegram", "900000779")
    other = _contact(app, "telegram", "900000780")
    ids = [_queue(app, cid, f"part {i}") for i in range(5)]
    assert _deliver(app, ids[-1]) == "deferred"
    assert [m.text for m in fakes.messages("900000779")] == ["part 0", "part 1", "part 2"]
    assert [_row(app, i).status for i in ids] == ["sent"] * 3 + ["queued"] * 2
    assert _later_jobs(app) == [ids[-1]]
    assert _deliver(app, ids[-1]) == "deferred"  # its own job, meanwhile: still not its turn, no second job
    assert _later_jobs(app) == [ids[-1]]
    other_id = _queue(app, other, "another chat")
    assert _deliver(app, other_id) == "sent"  # the pace is per chat
    run_jobs(app)
    assert [m.text for m in fakes.messages("900000779")] == [f"part {i}" for i in range(5)]
    assert {_row(app, i).status for i in ids} == {"sent"}


def test_row_in_sending_state_is_never_sent_again(app, fakes):
    """A worker died mid-send: the row says `sending`; a re-run of the job must not send it."""
    mid = _queue(app, _contact(app))
    with app.extensions["helpline"].db.session() as s:
        s.get(Message, mid).status = "sending"
    assert _deliver(app, mid) == "sending"
    assert fakes.messages() == []


def test_earlier_rows_to_the_same_recipient_go_first(app, fakes):
    cid = _contact(app)
    first, second = _queue(app, cid, "first"), _queue(app, cid, "second")
    _deliver(app, second)
    assert [m.text for m in fakes.messages("+4915100000201")] == ["first", "second"]
    assert _deliver(app, first) == "sent"
    assert len(fakes.messages()) == 2


def test_long_text_is_split_within_the_channel_limit(app, fakes):
    text = ("Paragraph about the asylum procedure. " * 30 + "\n\n") * 3
    mid = _queue(app, _contact(app), text)
    _deliver(app, mid)
    parts = [m.text for m in fakes.messages("+4915100000201")]
    assert len(parts) == 3 and all(len(p) <= 1600 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_split_text_prefers_boundaries():
    assert split_text("short", 10) == ["short"]
    parts = split_text("one two three. four five six seven", 16)
    assert all(len(p) <= 16 for p in parts) and " ".join(parts).split() == "one two three. four five six seven".split()
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_unknown_message_id_is_gone(app):
    assert _deliver(app, 999999) == "gone"


def test_rows_are_queued_then_the_job_carries_only_the_id(app, redis_client):
    from rq import Queue
    cid = _contact(app)
    rt = app.extensions["helpline"]
    with app.app_context(), rt.db.session() as s:
        queue_text(s, s.get(Contact, cid), "secret text +4915100000201")
    jobs = Queue("high", connection=redis_client).jobs
    assert len(jobs) == 1 and jobs[0].args == (jobs[0].args[0],) and isinstance(jobs[0].args[0], int)
    assert jobs[0].failure_ttl <= 86400 and jobs[0].result_ttl <= 3600
    raw = b"".join(v for k in redis_client.keys("rq:job:*") for v in redis_client.hgetall(k).values())
    assert b"secret text" not in raw and b"4915100000201" not in raw
    with rt.db.session() as s:
        assert s.scalar(select(Message.status)) == "queued"


def test_replies_overtake_waiting_processing_and_crisis_replies_go_on_crisis(app, redis_client):
    """Under steady traffic `high` is never empty: a reply behind processing would wait for all of it."""
    from rq import Queue

    from helpline.outbox import enqueue_processing
    cid = _contact(app)
    rt = app.extensions["helpline"]
    with app.app_context():
        for _ in range(3):
            enqueue_processing(cid)
        with rt.db.session() as s:
            reply = queue_text(s, s.get(Contact, cid), "reply")
        with rt.db.session() as s:
            crisis = queue_text(s, s.get(Contact, cid), "crisis reply", crisis=True, force=True)
    high = Queue("high", connection=redis_client).jobs
    processing = ["workers.inbound.process_contact"] * 3
    assert [j.func_name for j in high] == ["workers.outbound.deliver"] + processing
    assert high[0].args == (reply.id,)
    assert [j.args for j in Queue("crisis", connection=redis_client).jobs] == [(crisis.id,)]
    assert Queue("default", connection=redis_client).count == 0
