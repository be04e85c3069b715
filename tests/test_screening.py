"""The screening stage: a crisis only the model catches is screened and paged ahead of a backlog."""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from rq import Queue, SimpleWorker
from sqlalchemy import select

from helpline import embeddings
from helpline.models import Message
from helpline.runtime import set_process_runtime
from tests.support import post_twilio, run_jobs, wa
from workers.dispatch import dispatch_pending
from workers.screening import VERDICT, WAITING, screen_next, take_verdict

WEBER = "+4915112345678"
ROOT = Path(__file__).resolve().parent.parent


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@lru_cache(maxsize=1)
def _texts(screener) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """A HIGH message the phrase lists miss (the dispatcher sends it to `high`, behind the traffic), and
    English questions the screener leaves alone."""
    crisis = next(r["text"] for r in _tsv(ROOT / "content" / "crisis" / "labelled_dev.tsv")
                  if r["label"] == "high" and len(r["text"].split()) >= 5 and not screener.quick_high(r["text"])
                  and screener.screen(r["text"]).level == "high")
    questions = [r["text"] for r in _tsv(ROOT / "tests" / "data" / "faq_eval.tsv") if r["lang"] == "en"]
    return crisis, [q for q in questions if screener.screen(q).level is None][:20]


def _queued(rt, name: str) -> int:  # type: ignore[no-untyped-def]
    return Queue(name, connection=rt.redis).count


def test_a_model_only_crisis_queued_behind_a_backlog_is_screened_and_paged_first(app, client, fakes):
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    crisis, questions = _texts(rt.screener)
    for i, q in enumerate(questions):
        post_twilio(client, wa(f"+49176100{i:05d}", q))
    post_twilio(client, wa("+4917699999999", crisis))
    with app.app_context():
        dispatch_pending(rt)
        assert _queued(rt, "crisis") == 0 and _queued(rt, "high") == len(questions) + 1  # all behind the traffic
        assert rt.redis.zcard(WAITING) == len(questions) + 1
        assert screen_next(rt)  # one message screened: the pre-screen puts the crisis first
        assert _queued(rt, "crisis") == 1
        SimpleWorker([Queue("crisis", connection=rt.redis)], connection=rt.redis).work(
            burst=True, logging_level="ERROR")
    [page] = fakes.messages(WEBER)
    [reply] = fakes.messages("whatsapp:+4917699999999")
    assert "112" in reply.text
    with rt.db.session() as s:
        waiting = s.scalars(select(Message).where(Message.direction == "in", Message.status == "received")).all()
        assert len(waiting) == len(questions)  # the backlog is still waiting; only the crisis went ahead
        [screened] = s.scalars(select(Message).where(Message.direction == "in", Message.status == "processed"))
        assert screened.payload["screening"]["level"] == "high"
    run_jobs(app)
    assert len(fakes.messages(WEBER)) == 1  # its job on `high` found nothing left: no second page
    assert len(fakes.messages("whatsapp:+4917699999999")) == 1
    for i in range(len(questions)):
        assert fakes.messages(f"whatsapp:+49176100{i:05d}")  # everyone else answered afterwards


def test_the_worker_takes_the_stage_verdict_only_from_a_screener_like_its_own(app, client, fakes):
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    _crisis, questions = _texts(rt.screener)
    post_twilio(client, wa("+4917612300000", questions[0]))
    with app.app_context():
        dispatch_pending(rt)
        assert screen_next(rt) and not screen_next(rt)
        with rt.db.session() as s:
            [msg] = s.scalars(select(Message).where(Message.direction == "in"))
        kept = rt.redis.hgetall(VERDICT.format(msg.id))
        assert take_verdict(rt, msg.id, msg.text) == rt.screener.screen(msg.text)
        # the vector the net computed is kept, for FAQ matching in the worker that processes the message
        assert np.array_equal(np.frombuffer(kept[b"vector"], dtype=np.float32), embeddings.embed_one(msg.text))
        rt.redis.hset(VERDICT.format(msg.id), "fingerprint", "another screener")
        assert take_verdict(rt, msg.id, msg.text) is None  # the worker screens it itself
        rt.redis.hset(VERDICT.format(msg.id), mapping={"fingerprint": rt.screener.fingerprint,
                                                       "verdict": json.dumps(["high", "violence", 0.9, "semantic"])})
    run_jobs(app)  # a kept verdict is what the worker acts on
    with rt.db.session() as s:
        [msg] = s.scalars(select(Message).where(Message.direction == "in"))
        assert msg.status == "processed" and msg.payload["screening"]["level"] == "high"
    assert len(fakes.messages(WEBER)) == 1


def test_without_the_stage_every_message_is_still_screened_by_its_worker(app, client, fakes):
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    crisis, _questions = _texts(rt.screener)
    post_twilio(client, wa("+4917612300001", crisis))
    run_jobs(app)  # no screening stage ran: the worker screened it
    assert rt.redis.zcard(WAITING) == 1  # offered, never taken
    assert len(fakes.messages(WEBER)) == 1
