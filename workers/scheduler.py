"""`helpline scheduler`: timed work, once a second.

Re-paging, queue timeouts and position notices, assignment, volunteers who
never opened a conversation, stuck inbound and outbound rows, retention.
Several schedulers may run: a Redis lock lets one act per round.
"""
from __future__ import annotations

import logging
import signal
import time
from datetime import timedelta

from sqlalchemy import select, update

from helpline.config import Config
from helpline.models import Contact, Conversation, Message, utcnow
from workers.locks import LockTimeout, named_lock

log = logging.getLogger(__name__)
STUCK_INBOUND_SECONDS = 5
STUCK_QUEUED_SECONDS = 90
INTERRUPTED_SENDING_SECONDS = 180
REENQUEUE_EVERY_SECONDS = 60
PURGE_EVERY_SECONDS = 3600


def run_round(rt, stuck_inbound_seconds: float = STUCK_INBOUND_SECONDS,  # type: ignore[no-untyped-def]
              stuck_queued_seconds: float = STUCK_QUEUED_SECONDS) -> dict[str, int]:
    from helpline.conversations import do_assign_waiting, do_expire_unopened, do_tell_position, text_for
    from helpline.escalation import do_repage_due
    from helpline.outbox import enqueue_delivery, enqueue_processing, queue_text
    counts: dict[str, int] = {}
    now = utcnow()
    with rt.db.session() as s:
        counts["repaged"] = do_repage_due(s)
    with rt.db.session() as s:
        counts["unopened"] = do_expire_unopened(s, rt.config.assignment_open_seconds)
        counts["assigned"] = len(do_assign_waiting(s))
    with rt.db.session() as s:
        timeout = now - timedelta(seconds=rt.config.queue_timeout_seconds)
        for conv in s.scalars(select(Conversation).where(Conversation.status == "waiting")):
            contact = s.get(Contact, conv.contact_id) if conv.contact_id else None
            if contact is None:
                continue
            if conv.queued_at and conv.queued_at < timeout and not conv.queue_notice.get("timeout_sent") \
                    and conv.priority < 2:
                labels = [text_for(contact, k) for k in ("option.keep_waiting", "option.read_faq",
                                                         "option.leave_message")]
                queue_text(s, contact, text_for(contact, "queue_timeout") + "\n" +
                           "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1)),
                           conversation=conv, options=tuple(labels))
                conv.queue_notice = {**conv.queue_notice, "timeout_sent": True, "options": "timeout"}
                contact.state = {**contact.state, "node": "_waiting_options"}
            elif conv.queue_notice.get("position"):
                do_tell_position(s, contact, conv)
    with rt.db.session() as s:
        stuck_in = s.scalars(select(Message.contact_id).where(
            Message.direction == "in", Message.status == "received", Message.contact_id.is_not(None),
            Message.created_at <= now - timedelta(seconds=stuck_inbound_seconds)).distinct()).all()
        stuck_out = s.scalars(select(Message.id).where(
            Message.direction == "out", Message.status == "queued",
            Message.created_at <= now - timedelta(seconds=stuck_queued_seconds))).all()
        counts["interrupted"] = s.execute(update(Message).where(
            Message.direction == "out", Message.status == "sending",
            Message.created_at < now - timedelta(seconds=INTERRUPTED_SENDING_SECONDS)).values(
            status="failed", error_code="interrupted")).rowcount or 0
    stuck_in = not_reenqueued_lately(rt.redis, "contact", stuck_in)
    stuck_out = not_reenqueued_lately(rt.redis, "out", stuck_out)
    for cid in stuck_in:
        enqueue_processing(cid)
    if stuck_out:
        enqueue_delivery(stuck_out)
    counts["reenqueued"] = len(stuck_in) + len(stuck_out)
    return counts


def not_reenqueued_lately(redis_client, kind: str,  # type: ignore[no-untyped-def]
                          ids: list[int]) -> list[int]:
    """The ids not re-enqueued in the last REENQUEUE_EVERY_SECONDS, now marked as re-enqueued.

    A row still waiting may have its job queued behind a backlog; re-enqueueing it every round grew
    the queues by the whole backlog each second. A job that was really lost is re-enqueued once the
    mark expires; with Redis restarted empty the marks went with the jobs, so at once."""
    if not ids:
        return []
    pipe = redis_client.pipeline(transaction=False)
    for i in ids:
        pipe.set(f"helpline:reenqueued:{kind}:{i}", 1, nx=True, ex=REENQUEUE_EVERY_SECONDS)
    return [i for i, fresh in zip(ids, pipe.execute()) if fresh]


def purge(rt) -> int:  # type: ignore[no-untyped-def]
    """Message text older than the retention period goes; counts and timestamps stay for metrics."""
    cutoff = utcnow() - timedelta(days=rt.config.retention_days)
    with rt.db.session() as s:
        return s.execute(update(Message).where(Message.created_at < cutoff, Message.text.is_not(None)).values(
            text=None, payload={})).rowcount or 0


def run_scheduler(config: Config, once: bool = False) -> int:
    from workers.run import build_worker_runtime
    app, rt = build_worker_runtime(config)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    last_purge = 0.0
    from workers.dispatch import start_dispatcher
    dispatcher = start_dispatcher(app, rt)  # also in every crisis-only worker
    with app.app_context():
        rt.content
        while not stopping:
            started = time.monotonic()
            try:
                with named_lock(rt, "scheduler", timeout=30, wait=0):  # one scheduler acts per round
                    counts = run_round(rt)
                    if time.time() - last_purge > PURGE_EVERY_SECONDS:
                        counts["purged"] = purge(rt)
                        last_purge = time.time()
                    if any(counts.values()):
                        log.info("scheduler round: %s", counts)
            except LockTimeout:  # another scheduler has this round
                pass
            except Exception as e:  # Redis or the database away: try again next round
                log.warning("scheduler round failed: %s: %s", type(e).__name__, str(e)[:200])
            if once:
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    dispatcher.stop.set()
    rt.close()
    return 0
