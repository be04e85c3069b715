"""The screening stage: a crisis only the model catches is screened and paged ahead of a backlog."""
from __future__ import annotations

import csv
import json
import threading
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
import workers.screening as stage
from workers.screening import DONE, TAKEN, VERDICT, WAITING, screen_next, take_verdict

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
                  if r["label"] == "high" and len(r["text"].split()) >= 5
                  and not screener.quick_high(r["text"]) and screener.screen(r["text"]).level == "high")
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
        # all behind the traffic
        assert _queued(rt, "crisis") == 0 and _queued(rt, "high") == len(questions) + 1
        assert rt.redis.zcard(WAITING) == len(questions) + 1
        assert screen_next(rt)  # one message screened: the pre-screen puts the crisis first
        assert _queued(rt, "crisis") == 1
        SimpleWorker([Queue("crisis", connection=rt.redis)], connection=rt.redis).work(
            burst=True, logging_level="ERROR")
    [page] = fakes.messages(WEBER)
    [reply] = fakes.messages("whatsapp:+4917699999999")
    assert "112" in reply.text
    with rt.db.session() as s:
        inbound = select(Message).where(Message.direction == "in")
        waiting = s.scalars(inbound.where(Message.status == "received")).all()
        assert len(waiting) == len(questions)  # the backlog is still waiting; only the crisis went ahead
        [screened] = s.scalars(inbound.where(Message.status == "processed"))
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
        assert take_verdict(rt, msg.id, msg.contact_id, msg.text) == rt.screener.screen(msg.text)
        # the vector the net computed is kept, for FAQ matching in the worker that processes the message
        vector = np.frombuffer(kept[b"vector"], dtype=np.float32)
        assert np.array_equal(vector, embeddings.embed_one(msg.text))
        rt.redis.hset(VERDICT.format(msg.id), "fingerprint", "another screener")
        assert take_verdict(rt, msg.id, msg.contact_id, msg.text) is None  # the worker screens it itself
        forged = json.dumps(["high", "violence", 0.9, "semantic"])
        rt.redis.hset(VERDICT.format(msg.id), mapping={"fingerprint": rt.screener.fingerprint,
                                                       "verdict": forged})
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
    with app.app_context():
        dispatch_pending(rt)
    assert rt.redis.zcard(WAITING) == 1  # offered to the stage
    run_jobs(app)  # no screening stage ran: the worker took it back and screened it
    assert rt.redis.zcard(WAITING) == 0
    assert len(fakes.messages(WEBER)) == 1


def test_a_worker_waits_for_a_screening_under_way_and_screens_itself_if_it_never_ends(app, client, fakes,
                                                                                       monkeypatch):
    rt = app.extensions["helpline"]
    set_process_runtime(rt)
    _crisis, questions = _texts(rt.screener)
    post_twilio(client, wa("+4917612300002", questions[1]))
    post_twilio(client, wa("+4917612300003", questions[2]))
    with app.app_context():
        dispatch_pending(rt)
        with rt.db.session() as s:
            first, second = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))
        # the stage takes the first and finishes while the worker waits for it
        rt.redis.zrem(WAITING, f"{first.id}:{first.contact_id}")
        rt.redis.set(TAKEN.format(first.id), 1)

        def stage_finishes() -> None:
            with app.app_context():
                stage._screen(rt, first.id)
                rt.redis.rpush(DONE.format(first.id), 1)

        finisher = threading.Timer(0.2, stage_finishes)
        finisher.start()
        assert take_verdict(rt, first.id, first.contact_id, first.text) == rt.screener.screen(first.text)
        finisher.join()
        # the stage took the second and died: the worker gives up waiting and screens it itself
        monkeypatch.setattr(stage, "WAIT_SECONDS", 0.1)
        rt.redis.zrem(WAITING, f"{second.id}:{second.contact_id}")
        rt.redis.set(TAKEN.format(second.id), 1)
        assert take_verdict(rt, second.id, second.contact_id, second.text) is None
    run_jobs(app)
    assert fakes.messages("whatsapp:+4917612300002") and fakes.messages("whatsapp:+4917612300003")
