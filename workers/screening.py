"""The screening stage: new messages screened in full ahead of the ordinary queue, likeliest crises first.

The dispatcher sends a message the phrase lists catch to the `crisis` queue; every other one goes to `high`
as before, and is also offered here with its pre-screen score (helpline/prescreen.py, ~0.1 ms). A thread in
every crisis-only worker (an idle process) takes the highest-scored message waiting, screens it in full
(phrase lists, typo pass, e5 net: the same `Screener.screen` the worker runs) and
- on HIGH, enqueues the contact's processing on `crisis`, so the page goes out now rather than after the
  backlog (the processing job on `high` finds nothing left to do when it comes);
- keeps the verdict and the message's vector in Redis for VERDICT_SECONDS, so the worker that processes the
  message does not embed it again (`take_verdict`).

Nothing is skipped: the worker that processes a message screens it itself whenever no verdict of a screener
like its own is kept (stage away, Redis away, verdict expired, content changed). Under overload the stage may
not reach the lowest-scored messages before the workers do; ordinary answers wait, a crisis the pre-screen
ranks high does not. The set is bounded (MAX_WAITING): the lowest scores are dropped from it, never from
screening.
"""
from __future__ import annotations

import json
import logging
import threading

import numpy as np

from helpline import embeddings
from helpline.crisis import Screening
from helpline.models import Message
from helpline.outbox import enqueue_processing
from helpline.prescreen import shared_prescreen
from workers.background import start_loop

log = logging.getLogger(__name__)
WAITING = "helpline:screen"            # sorted set: member "message id:contact id", score the pre-screen's
VERDICT = "helpline:screened:{}"       # hash by message id: the screener's fingerprint, verdict, vector
TAKEN = "helpline:screening:{}"        # set while the stage screens the message
DONE = "helpline:screened:{}:done"     # a list the stage pushes to when it is done: a waiting worker wakes
VERDICT_SECONDS = 900
TAKEN_SECONDS = 30
WAIT_SECONDS = 1.0                     # a worker waits this long at most for a screening under way
MAX_WAITING = 20000


def offer(rt, message_id: int, contact_id: int, text: str) -> None:  # type: ignore[no-untyped-def]
    """Puts a stored message in the stage's queue (the dispatcher, after it enqueued the processing job)."""
    score = shared_prescreen(rt.content).score(text)
    pipe = rt.redis.pipeline(transaction=False)
    pipe.zadd(WAITING, {f"{message_id}:{contact_id}": score})
    pipe.zremrangebyrank(WAITING, 0, -(MAX_WAITING + 1))
    pipe.execute()


def screen_next(rt, timeout: float = 0) -> bool:  # type: ignore[no-untyped-def]
    """Screens the highest-scored waiting message; False when none waited (`timeout` seconds, if given)."""
    if timeout:
        got = rt.redis.bzpopmax([WAITING], timeout=timeout)
        member = got[1] if got else None
    else:
        popped = rt.redis.zpopmax(WAITING)
        member = popped[0][0] if popped else None
    if member is None:
        return False
    raw = member.decode() if isinstance(member, bytes) else member
    message_id, contact_id = (int(x) for x in raw.split(":"))
    rt.redis.set(TAKEN.format(message_id), 1, ex=TAKEN_SECONDS)
    try:
        screening = _screen(rt, message_id)
    finally:  # done, or failed: a worker waiting for this verdict goes on either way
        pipe = rt.redis.pipeline(transaction=False)
        pipe.rpush(DONE.format(message_id), 1)
        pipe.expire(DONE.format(message_id), TAKEN_SECONDS)
        pipe.delete(TAKEN.format(message_id))
        pipe.execute()
    if screening is not None and screening.level == "high":
        enqueue_processing(contact_id, crisis=True)
        log.info("screening stage: message %s is HIGH (%s); its contact goes to the crisis queue", message_id,
                 screening.method)
    return True


def _screen(rt, message_id: int) -> Screening | None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.status != "received" or not msg.text:
            return None  # processed meanwhile: its worker screened it
        text = msg.text
    screening = rt.screener.screen(text)
    vector = embeddings.peek(text)  # computed by the net when it read the whole message; not computed here
    fields: dict[str, str | bytes] = {"fingerprint": rt.screener.fingerprint, "verdict": json.dumps(
        [screening.level, screening.category, screening.score, screening.method])}
    if vector is not None:
        fields["vector"] = np.asarray(vector, dtype=np.float32).tobytes()
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hset(VERDICT.format(message_id), mapping=fields)
    pipe.expire(VERDICT.format(message_id), VERDICT_SECONDS)
    pipe.execute()
    return screening


def take_verdict(rt, message_id: int, contact_id: int,  # type: ignore[no-untyped-def]
                 text: str) -> Screening | None:
    """The stage's verdict on this message if a screener like this process's gave it; its vector is kept for
    FAQ matching. None otherwise, and the caller screens: a message the stage has not taken yet is taken back
    from it (so the e5 embedding is computed once, here), one it is screening now is waited for (WAIT_SECONDS
    at most). A missing verdict costs time, never a screening."""
    try:
        if rt.redis.zrem(WAITING, f"{message_id}:{contact_id}"):
            return None  # not taken by the stage: screened here
        kept = rt.redis.hgetall(VERDICT.format(message_id))
        if not kept and rt.redis.exists(TAKEN.format(message_id)):
            rt.redis.blpop([DONE.format(message_id)], timeout=WAIT_SECONDS)
            kept = rt.redis.hgetall(VERDICT.format(message_id))
    except Exception as e:  # Redis away: screen here
        log.warning("screening verdict not read: %s", type(e).__name__)
        return None
    if not kept or kept.get(b"fingerprint", b"").decode() != rt.screener.fingerprint:
        return None
    level, category, score, method = json.loads(kept[b"verdict"])
    vector = kept.get(b"vector")
    if vector:
        embeddings.remember(text, np.frombuffer(vector, dtype=np.float32))
    return Screening(level, category, float(score), method)


def start_screening(app, rt) -> threading.Thread:  # type: ignore[no-untyped-def]
    """The stage as a thread of a crisis-only worker: its RQ loop still takes `crisis` jobs at once (the e5
    engine releases the GIL while it computes). Redis or the database away: the workers screen what they
    process."""
    return start_loop(app, rt, "screening", lambda: screen_next(rt, timeout=1))
