"""Sending outbound rows: queued -> sending -> sent (-> delivered/read by callbacks) or failed.

The row's state guards every send: a job re-run after a worker crash finds
the row no longer queued and does not send again. Rows to one recipient go
out in the order they were created.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from helpline.errors import ProviderError
from helpline.models import Contact, Message, Staff, utcnow
from helpline.runtime import current_runtime
from helpline.senders import LIMITS, Outgoing, split_text
from workers.locks import HELD_LOCK_SECONDS, named_lock

log = logging.getLogger(__name__)
TELEGRAM_CHAT_INTERVAL = 1.0     # Telegram: about one message a second to one chat,
TELEGRAM_CHAT_BURST = 3          # after a short burst
TELEGRAM_BOT_PER_SECOND = 25     # and about 30 a second per bot
WHATSAPP_PER_SECOND = 60         # Twilio's default WhatsApp sender throughput is 80 MPS
LATER_JOB = "deliver-later-"     # the id prefix of a send job scheduled for a row's turn
RECORD_RETRY_SECONDS = 30.0      # within the job's 60 s timeout
T = TypeVar("T")


def deliver(message_id: int, wait: float = 60) -> str:
    """Sends this row and any earlier queued rows to the same recipient, in order; waits `wait` seconds at
    most for another worker's send to the same recipient (LockTimeout after that). A row whose turn has not
    come (a provider's retry_after, the per-chat pace) is not waited for here: the rest is handed to a
    send job scheduled for when it may go, and this returns `deferred`."""
    rt = current_runtime()
    with rt.db.session() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.direction != "out":
            return "gone"
        if msg.status != "queued":
            return msg.status
        recipient = f"staff:{msg.staff_id}" if msg.staff_id else f"contact:{msg.contact_id}"
        owner = Message.staff_id == msg.staff_id if msg.staff_id else Message.contact_id == msg.contact_id
        ids = list(s.scalars(select(Message.id).where(owner, Message.direction == "out", Message.status == "queued",
                                                      Message.id <= message_id).order_by(Message.id)))
    result = "sent"
    with named_lock(rt, f"send:{recipient}", timeout=HELD_LOCK_SECONDS, wait=wait):
        for mid in ids:
            result = send_one(mid)
            while isinstance(result, Later) and not rt.config.redis_url:  # no queue to hand it to
                time.sleep(min(result.seconds, 30.0))
                result = send_one(mid)
            if isinstance(result, Later):
                _send_later(message_id, result.seconds)
                return "deferred"
    return result


@dataclass(frozen=True)
class Later:
    """send_one's answer for a row whose turn has not come: try again in `seconds`."""
    seconds: float


def _send_later(message_id: int, seconds: float) -> None:
    """A send job for `message_id` (and the rows before it) when its turn comes, on the queue this worker
    serves now (a crisis reply stays on `crisis`). RQ schedules in whole seconds, so the job is due at the
    next whole second after the turn. One per row at a time: the mark expires when the job is due. Lost
    with Redis, the row is re-enqueued by the scheduler all the same."""
    from rq import Retry, get_current_job

    from helpline.outbox import JOB_FAILURE_TTL, JOB_RESULT_TTL, backoff
    rt = current_runtime()
    now = time.time()
    due = math.ceil(now + seconds)
    if not rt.redis.set(f"helpline:later:{message_id}", 1, nx=True, px=max(1, int((due - now) * 1000))):
        return
    job = get_current_job()
    queue = job.origin if job is not None else "high"
    rt.queue(queue).enqueue_at(datetime.fromtimestamp(due, tz=timezone.utc), "workers.outbound.deliver",
                               message_id, job_id=f"{LATER_JOB}{message_id}-{due}",
                               retry=Retry(max=6, interval=backoff(queue == "crisis")),
                               result_ttl=JOB_RESULT_TTL, failure_ttl=JOB_FAILURE_TTL, job_timeout=60)


def send_one(message_id: int) -> str | Later:
    rt = current_runtime()
    with rt.db.session() as s:
        q = select(Message).where(Message.id == message_id)
        if not rt.db.is_sqlite:
            q = q.with_for_update()
        msg = s.scalar(q)
        if msg is None or msg.status != "queued":
            return msg.status if msg else "gone"
        to, channel = _recipient(s, msg)
        if to is None:
            msg.status, msg.error_code = "failed", "no_address"
            return "failed"
        later = _turn(channel, to, float(msg.payload.get("not_before", 0)))
        if later > 0:  # nothing waits here: the row stays queued, and deliver() schedules its turn
            return Later(later)
        text, options = msg.text or "", tuple(msg.payload.get("options") or ())
        msg.status, msg.attempts = "sending", msg.attempts + 1
        attempt = msg.attempts
        erase_after = bool(msg.payload.get("erase_contact"))
        contact_id, page_id = msg.contact_id, msg.payload.get("page_id")
        skip = int(msg.payload.get("sent_parts", 0))
    callback = f"{rt.config.public_base_url}/webhooks/twilio/status" if rt.config.public_base_url else None
    sender_ids: list[str] = []
    try:
        sender = rt.senders.get(channel)
        chunks = split_text(text, LIMITS.get(channel, 1600))[skip:]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            sender_ids.append(sender.send(Outgoing(channel, to, chunk, options if last else (),
                                                   callback if channel in ("sms", "whatsapp") else None)))
    except ProviderError as e:
        return _failed(message_id, attempt, e, sender_ids, page_id)
    except Exception:
        _set(message_id, attempt, status="queued")  # unknown failure before or during the call: retry the row
        raise

    def record(s: Session) -> None:
        msg = s.get(Message, message_id)
        if msg is not None:
            msg.status, msg.sent_at = ("delivered", utcnow()) if channel in ("web", "console") else ("sent", utcnow())
            msg.provider_id = (sender_ids[-1] or None) if sender_ids else None
            if len(sender_ids) > 1:
                msg.payload = {**msg.payload, "provider_ids": sender_ids}
        if erase_after and contact_id:
            s.execute(delete(Message).where(Message.contact_id == contact_id))
            contact = s.get(Contact, contact_id)
            if contact is not None:
                s.delete(contact)

    _after_send(record)
    return "sent"


def _after_send(write: Callable[[Session], T]) -> T:
    """Records what the provider answered, retried while the database is briefly away: the send cannot
    be undone, and a row left `sending` is never sent again (a success would end as `interrupted`, a
    transient failure would never be retried)."""
    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            with current_runtime().db.session() as s:
                return write(s)
        except (OperationalError, PoolTimeout) as e:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("recording a send waits for the database: %s", type(e).__name__)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _failed(message_id: int, attempt: int, e: ProviderError, sent: list[str], page_id: int | None) -> str:
    outcome = _after_send(lambda s: _record_failure(s, message_id, attempt, e, sent, page_id))
    if outcome is None:
        raise e  # after the commit: RQ records the failure and retries the job
    return outcome


def _record_failure(s: Session, message_id: int, attempt: int, e: ProviderError, sent: list[str],
                    page_id: int | None) -> str | None:
    """`failed` when the provider will never take it; None when the row is queued again for a retry."""
    msg = s.get(Message, message_id)
    if msg is None:
        return "gone"
    if msg.attempts != attempt:  # queued by a commit of ours whose answer was lost, and taken again since
        return msg.status
    if msg.status == "queued" or (msg.status == "failed" and msg.error_code != "interrupted"):
        return None if msg.status == "queued" else "failed"  # that commit of ours, not taken since
    if e.permanent:
        msg.status, msg.error_code = "failed", e.code
        if e.unreachable and msg.contact_id:
            contact = s.get(Contact, msg.contact_id)
            if contact is not None:
                contact.unreachable = True
        log.warning("message %s failed permanently at the provider: %s", message_id, e.code)
        if page_id:
            from helpline.escalation import do_page_failed
            do_page_failed(s, int(page_id))
        return "failed"
    if sent:  # part of a long text went out: send only the rest next time
        msg.payload = {**msg.payload, "sent_parts": int(msg.payload.get("sent_parts", 0)) + len(sent)}
    msg.status = "queued"
    if e.retry_after:
        msg.payload = {**msg.payload, "not_before": time.time() + e.retry_after}
    return None


def _set(message_id: int, attempt: int, **values: object) -> None:
    def write(s: Session) -> None:
        msg = s.get(Message, message_id)
        if msg is not None and (msg.status, msg.attempts) == ("sending", attempt):
            for k, v in values.items():
                setattr(msg, k, v)
    _after_send(write)


def _turn(channel: str, to: str | None, not_before: float) -> float:
    """0 when the row may go now (its slot in the pace is then taken); else the seconds until it may: a
    provider's retry_after, the per-chat pace, the per-sender rate."""
    wait = not_before - time.time()
    if wait > 0:
        return wait
    if channel == "telegram" and to:
        return (_pace(f"tg:{to}", TELEGRAM_CHAT_INTERVAL, TELEGRAM_CHAT_BURST)
                or _per_second("tgbot", TELEGRAM_BOT_PER_SECOND))
    if channel == "whatsapp":
        return _per_second("wa", WHATSAPP_PER_SECOND)
    return 0.0


def _recipient(s, msg: Message) -> tuple[str | None, str]:  # type: ignore[no-untyped-def]
    if msg.staff_id:
        staff = s.get(Staff, msg.staff_id)
        if staff is None:
            return None, msg.channel
        return (staff.telegram_chat_id if msg.channel == "telegram" else staff.phone), msg.channel
    contact = s.get(Contact, msg.contact_id) if msg.contact_id else None
    return (contact.address if contact else None), msg.channel


# Generic cell rate algorithm: the key holds the theoretical arrival time (ms) of the next message; one may
# go when that is at most (burst - 1) intervals ahead of now. Atomic across workers and machines.
_GCRA = """
local now, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local early = tat - now - (burst - 1) * interval
if early > 0 then return early end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tat + interval - now) + 1000)
return 0
"""


def _pace(key: str, interval: float, burst: int = 1) -> float:
    """At most one message per `interval` to one chat after a burst of `burst` (Telegram: "avoid more than
    one message per second to one chat; short bursts are allowed"), across workers. Seconds to wait, or 0
    when the message may go now (its slot is then taken)."""
    rt = current_runtime()
    if not rt.config.redis_url:
        return 0.0
    early = rt.redis.eval(_GCRA, 1, f"helpline:pace:{key}", int(time.time() * 1000), int(interval * 1000), burst)
    return int(early) / 1000.0


def _per_second(key: str, limit: int) -> float:
    """At most `limit` sends a second for one sender, across workers (a fixed one-second window). Seconds
    to wait, or 0 when the send may go now (it is then counted)."""
    rt = current_runtime()
    if not rt.config.redis_url:
        return 0.0
    now = time.time()
    bucket = f"helpline:rate:{key}:{int(now)}"
    pipe = rt.redis.pipeline()
    pipe.incr(bucket)
    pipe.expire(bucket, 2)
    if pipe.execute()[0] <= limit:
        return 0.0
    return max(0.01, 1.0 - (now - int(now)))
