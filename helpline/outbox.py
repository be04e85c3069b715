"""Outbound messages: first a row (queued), then a job after commit.

Jobs carry row ids only. If Redis is down when the job should be enqueued,
the row stays queued and the scheduler enqueues it later.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterable, Iterator

from sqlalchemy.orm import Session

from helpline.db import after_commit
from helpline.models import Contact, Conversation, Message, Staff
from helpline.runtime import current_runtime

JOB_RESULT_TTL = 60
JOB_FAILURE_TTL = 24 * 3600  # not a year: failed jobs would keep ids around for no one
_held: ContextVar[list[tuple[int, bool]] | None] = ContextVar("held", default=None)


@contextmanager
def send_here() -> Iterator[list[tuple[int, bool]]]:
    """Inside the block, a row's send job is not enqueued at the commit: its (id, crisis) is collected, and
    the caller sends it itself right after the commit and enqueues a job only for what it could not send
    (`workers.inbound._send_now`). A crisis row's job is enqueued all the same. If the process dies between
    the commit and the send, the scheduler enqueues the row as it does when Redis was down."""
    ids: list[tuple[int, bool]] = []
    token = _held.set(ids)
    try:
        yield ids
    finally:
        _held.reset(token)


def backoff(crisis: bool = False) -> list[int]:
    """Exponential backoff with jitter, for RQ's Retry."""
    base = [1, 1, 2, 4, 8, 15] if crisis else [2, 4, 8, 16, 32, 64]
    return [b + random.randint(0, max(1, b // 2)) for b in base]


def enqueue_delivery(message_ids: Iterable[int], crisis: bool = False) -> None:
    """A send job per row: crisis rows on `crisis`, the rest at the front of `high`.

    A send takes ~10 ms and processing ~100 ms; behind processing (or on `default`, which a worker
    takes only when `high` is empty) replies waited until the traffic stopped. At the front they
    overtake the backlog; `deliver` still sends a recipient's rows in the order they were made."""
    from rq import Retry
    rt = current_runtime()
    q = rt.queue("crisis" if crisis else "high")
    held = _held.get()
    for mid in message_ids:
        if held is not None:
            held.append((mid, crisis))
            if not crisis:
                continue
        q.enqueue("workers.outbound.deliver", mid, job_id=f"deliver-{mid}", retry=Retry(max=6, interval=backoff(crisis)),
                  result_ttl=JOB_RESULT_TTL, failure_ttl=JOB_FAILURE_TTL, job_timeout=60, at_front=not crisis)


def enqueue_processing(contact_id: int, crisis: bool = False) -> None:
    from rq import Retry
    rt = current_runtime()
    rt.queue("crisis" if crisis else "high").enqueue(
        "workers.inbound.process_contact", contact_id, retry=Retry(max=5, interval=backoff(crisis)),
        result_ttl=JOB_RESULT_TTL, failure_ttl=JOB_FAILURE_TTL, job_timeout=120)


def queue_text(session: Session, contact: Contact, text: str, *, conversation: Conversation | None = None,
               author: str = "bot", options: tuple[str, ...] = (), crisis: bool = False,
               force: bool = False, payload: dict | None = None) -> Message | None:
    """Adds an outbound row for `contact`; None when the contact must not get messages."""
    if contact.unreachable or (contact.unsubscribed and not force):
        return None
    msg = Message(direction="out", channel=contact.channel, contact_id=contact.id,
                  conversation_id=conversation.id if conversation else None, text=text, author=author,
                  status="queued", payload={**(payload or {}), **({"options": list(options)} if options else {})})
    session.add(msg)
    session.flush()
    after_commit(session, lambda: enqueue_delivery([msg.id], crisis=crisis))
    return msg


def queue_to_staff(session: Session, staff: Staff, text: str, *, payload: dict | None = None,
                   crisis: bool = True) -> Message | None:
    """A page or notice to a staff member by their `page_via` channel."""
    via = staff.page_via or "sms"
    if via == "telegram":
        if not staff.telegram_chat_id:
            return None
        channel = "telegram"
    elif staff.phone:
        channel = via
    else:
        return None
    msg = Message(direction="out", channel=channel, staff_id=staff.id, text=text, author="system",
                  status="queued", payload=payload or {})
    session.add(msg)
    session.flush()
    after_commit(session, lambda: enqueue_delivery([msg.id], crisis=crisis))
    return msg
