"""The dispatcher: turns "message stored" notices from the webhooks into processing jobs.

It screens the message with the phrase lists of every language first, so a likely crisis goes to
the `crisis` queue, ahead of any backlog; every other message is also offered to the screening stage
(workers/screening.py), which screens it in full ahead of the backlog, likeliest crises first. It
runs as a thread in the scheduler and in every worker that serves only the `crisis` queue (processes
that are mostly idle, so a notice never waits behind a busy job); BLPOP hands each notice to one of
them; the notice carries ids only.
"""
from __future__ import annotations

import logging
import threading

from helpline.inbound import INBOUND_LIST
from helpline.models import Message
from helpline.outbox import enqueue_processing
from workers.background import start_loop
from workers.screening import offer

log = logging.getLogger(__name__)


def dispatch_one(rt, item: bytes | str) -> None:  # type: ignore[no-untyped-def]
    raw = item.decode() if isinstance(item, bytes) else item
    try:
        message_id, contact_id = (int(x) for x in raw.split(":"))
    except ValueError:
        log.warning("dispatcher: malformed notice ignored")
        return
    crisis = False
    with rt.db.session() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.status != "received":
            return
        text = msg.text
        if text:
            crisis = rt.screener.quick_high(text)
    enqueue_processing(contact_id, crisis=crisis)
    if text and not crisis:
        try:
            offer(rt, message_id, contact_id, text)
        except Exception as e:  # the processing job is queued: its worker screens the message itself
            log.warning("dispatcher: not offered to the screening stage: %s", type(e).__name__)


def dispatch_pending(rt, limit: int = 100000) -> int:  # type: ignore[no-untyped-def]
    """Everything waiting in the list, without blocking (tests, and the start of a worker); first the
    notices this process's own webhooks have not pushed yet (tests post and run jobs in one process)."""
    rt.flush_announcements()
    n = 0
    while n < limit:
        item = rt.redis.lpop(INBOUND_LIST)
        if item is None:
            return n
        dispatch_one(rt, item)
        n += 1
    return n


def start_dispatcher(app, rt) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Turns the webhooks' notices into jobs. Redis away: the scheduler re-enqueues what is stored."""
    def step() -> None:
        got = rt.redis.blpop([INBOUND_LIST], timeout=2)
        if got:
            dispatch_one(rt, got[1])
    return start_loop(app, rt, "dispatcher", step)
