"""Faults across the whole stack: web (gunicorn), `helpline worker` and `helpline scheduler` as separate
processes, each fault during a burst of webhooks; at the end every count is checked, not the logs.

- Redis SIGKILLed and restarted empty on the same port;
- PostgreSQL stopped and started again (the webhooks refuse with a 503 JSON, the provider re-posts);
- the providers answering 500, 429 (Telegram with retry_after) and too late for the client's timeout;
- workers SIGKILLed at random points and restarted.

Expected per message: one reply (the flows answer "Hello" and "MENU" with one text each); every inbound
row processed; every outbound row sent with an id the provider issued, no id twice. The two ambiguous
cases are counted as what they are: a provider that took a message but answered after the client gave
up gets it again on the retry (one extra copy each), and a worker killed between "sending" and the
provider's answer leaves a row that is never sent a second time (at most one copy).
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from helpline.models import Contact, Message
from tests.conftest import free_port
from tests.fakes import FakeProviders
from tests.support import PUBLIC, TELEGRAM_SECRET, sms, twilio_signature, wa

pytestmark = pytest.mark.slow
SETTLE_SECONDS = 300  # the scheduler re-enqueues outbound rows lost with Redis after 90 s
READY_SECONDS = 600  # the first start on a busy machine computes the content embeddings


@dataclass(frozen=True)
class Post:
    """One webhook as a provider sends it; `to` is the contact's address at the fake provider."""
    provider: str     # twilio | telegram
    to: str
    body: dict
    provider_id: str


def burst(n: int, seed: int, second_every: int = 3) -> list[Post]:
    """n contacts on SMS, WhatsApp and Telegram write "Hello"; every `second_every`-th then "MENU"."""
    rng = random.Random(seed)
    firsts, seconds = [], []
    for i in range(n):
        kind = ("sms", "whatsapp", "telegram")[i % 3]
        text_for = [("Hello", firsts)] + ([("MENU", seconds)] if i % second_every == 0 else [])
        for text, into in text_for:
            if kind == "telegram":
                chat = 910000000 + seed * 1000 + i
                uid = 60000000 + seed * 10000 + len(firsts) + len(seconds)
                update = {"update_id": uid, "message": {
                    "message_id": uid % 100000, "date": 1763700000, "text": text,
                    "from": {"id": chat, "is_bot": False, "first_name": "T", "language_code": "en"},
                    "chat": {"id": chat, "first_name": "T", "type": "private"}}}
                into.append(Post("telegram", str(chat), update, f"u{uid}"))
            else:
                number = f"+49152{seed:02d}{i:05d}"
                params = (sms if kind == "sms" else wa)(number, text)
                to = number if kind == "sms" else f"whatsapp:{number}"
                into.append(Post("twilio", to, params, params["MessageSid"]))
    rng.shuffle(firsts)
    return firsts + seconds  # a contact's second message after every first one


class Stack:
    """The processes of a Procfile deployment, started with the test's settings; all killed at the end."""

    def __init__(self, app, fakes: FakeProviders, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        self.rt = app.extensions["helpline"]
        self.fakes = fakes
        self.dir = tmp_path
        cfg = self.rt.config
        self.env = dict(os.environ, HELPLINE_DATA_DIR=str(cfg.data_dir), DATABASE_URL=cfg.database_url,
                        REDIS_URL=cfg.redis_url, SECRET_KEY=cfg.secret_key,
                        HELPLINE_ENCRYPTION_KEY=cfg.encryption_key, PUBLIC_BASE_URL=cfg.public_base_url,
                        TWILIO_ACCOUNT_SID=cfg.twilio_account_sid, TWILIO_AUTH_TOKEN=cfg.twilio_auth_token,
                        TWILIO_SMS_NUMBER=cfg.twilio_sms_number, TWILIO_WHATSAPP_NUMBER=cfg.twilio_whatsapp_number,
                        TWILIO_API_BASE_URL=cfg.twilio_api_base_url, TELEGRAM_BOT_TOKEN=cfg.telegram_bot_token,
                        TELEGRAM_WEBHOOK_SECRET=cfg.telegram_webhook_secret,
                        TELEGRAM_API_BASE_URL=cfg.telegram_api_base_url, PYTHONUNBUFFERED="1")
        self.procs: dict[str, subprocess.Popen] = {}
        self.offsets: dict[str, int] = {}  # where each process's log starts (a restart appends)
        self.lost = 0  # replies a killed worker took with it (check_exactly_once counts them)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()

    def log(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        with open(self.log(name), "ab") as out:
            self.offsets[name] = out.tell()
            proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def web(self) -> None:
        self.spawn("web", [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
                           "--worker-class", "gthread", "--threads", "4", "--timeout", "60",
                           "--log-level", "warning", "helpline.wsgi:app"])

    def worker(self, name: str) -> None:
        self.spawn(name, [sys.executable, "-m", "helpline.cli", "worker"])

    def wait_worker(self, name: str) -> None:
        """Until this run of the worker (the log is appended to across restarts) says it is ready."""
        start = self.offsets[name]
        self._wait_for(name, lambda: b" ready in " in self.log(name).read_bytes()[start:])

    def running(self, name: str, function: str | None = None) -> bool:
        """The worker process runs a job (of `function`) now, by RQ's own record. `function="send"`: the
        worker is sending, the moment between a row saying `sending` and the provider's answer; that is a
        send job's row, or a reply the processing job sends itself after its commit."""
        from rq import Worker
        pid = self.procs[name].pid
        for w in Worker.all(connection=self.rt.redis):
            if w.pid == pid and w.get_state() == "busy":
                job = w.get_current_job()
                if job is None:
                    return False
                if function != "send":
                    return function in (None, job.func_name)
                sending = (Message.id == job.args[0]) if job.func_name == "workers.outbound.deliver" \
                    else (Message.contact_id == job.args[0]) & (Message.direction == "out")
                with self.rt.db.session() as s:
                    return s.scalar(select(Message.id).where(sending, Message.status == "sending").limit(1)) \
                        is not None
        return False

    def scheduler(self) -> None:
        self.spawn("scheduler", [sys.executable, "-m", "helpline.cli", "scheduler"])

    def start(self, workers: int = 2) -> list[Post]:
        """Web, workers and the scheduler; ready once a first message was answered through all of them.
        Returns that message, to count with the rest."""
        self.web()
        names = [f"worker-{i + 1}" for i in range(workers)]
        for name in names:
            self.worker(name)
        self.scheduler()
        self._wait_for("web", lambda: self.http.get(self.url + "/healthz", timeout=2).status_code == 200)
        for name in names:
            self.wait_worker(name)
        first = burst(1, seed=99)[:1]
        assert self.post_all(first) == []
        self._wait_for("scheduler", lambda: len(self.fakes.messages(first[0].to)) >= 1)
        return first

    def _wait_for(self, name: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            self.check_alive(name)
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        try:
            counts = self.pending()
        except OperationalError as e:
            counts = {"database": type(e).__name__}  # type: ignore[dict-item]
        raise AssertionError(f"{name} did not get ready: {counts}, {self.fakes.inflight} at the provider, "
                             f"{len(self.fakes.sent)} sent\n{self.tails()}")

    def check_alive(self, *names: str) -> None:
        for name in names or tuple(self.procs):
            code = self.procs[name].poll()
            assert code is None, f"{name} exited with {code}:\n{self.tail(name)}"

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def tails(self) -> str:
        return "\n".join(f"--- {n}\n{self.tail(n)}" for n in self.procs)

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)
        self.http.close()

    def post(self, p: Post) -> requests.Response:
        if p.provider == "twilio":
            return self.http.post(self.url + "/webhooks/twilio", data=p.body, timeout=30, headers={
                "X-Twilio-Signature": twilio_signature(PUBLIC + "/webhooks/twilio", p.body)})
        return self.http.post(self.url + "/webhooks/telegram", data=json.dumps(p.body), timeout=30, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})

    def post_all(self, posts: list[Post], pause: float = 0.0) -> list[Post]:
        """Posts each; returns those the web refused (as a provider would see them), checking the refusals."""
        refused = []
        for p in posts:
            r = self.post(p)
            if r.status_code != 200:
                assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text[:300])
                assert r.headers["Content-Type"].startswith("application/json"), r.text[:300]
                assert r.json()["error"] == "unavailable" and "Traceback" not in r.text
                refused.append(p)
            time.sleep(pause)
        return refused

    # -- counting --------------------------------------------------------------

    def pending(self) -> dict[str, int]:
        with self.rt.db.session() as s:
            rows = s.execute(select(Message.direction, Message.status, func.count()).group_by(
                Message.direction, Message.status)).all()
        return {f"{d}:{st}": n for d, st, n in rows}

    def settle(self, expected_in: int, seconds: float = SETTLE_SECONDS) -> None:
        """Waits until every inbound row is processed and no outbound row is queued or sending, nothing at the
        provider: a fixed point, since only a received or queued row leads to a send."""
        deadline = time.monotonic() + seconds
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            try:
                counts = self.pending()
            except OperationalError:
                counts = {}
            stored = counts.get("in:processed", 0) + counts.get("in:received", 0)
            busy = counts.get("in:received", 0) + counts.get("out:queued", 0) + counts.get("out:sending", 0)
            if counts and stored == expected_in and not busy and self.fakes.inflight == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"not settled within {seconds} s: {counts}, {self.fakes.inflight} at the provider"
                             f"\n{self.tails()}")

    def check_exactly_once(self, posts: list[Post], extra_copies: dict[str, int] | None = None,
                           at_most_once: set[int] | None = None) -> None:
        """Each posted message stored and processed once and answered once.

        extra_copies: recipients that get that many more copies than rows (a provider took a send whose
        answer the client never saw). at_most_once: outbound rows left `sending` or `failed`/`interrupted` by
        a killed worker: each reached the provider at most once."""
        extra_copies = extra_copies or {}
        at_most_once = at_most_once or set()
        unique = {p.provider_id: p for p in posts}
        expected_in = Counter(p.to for p in unique.values())
        with self.rt.db.session() as s:
            inbound = s.execute(select(Message.provider_id, Message.status, Contact.channel, Contact.address).join(
                Contact, Contact.id == Message.contact_id).where(Message.direction == "in")).all()
            outbound = s.execute(select(Message.id, Message.status, Message.provider_id, Message.payload,
                                        Contact.channel, Contact.address).join(
                Contact, Contact.id == Message.contact_id).where(Message.direction == "out")).all()
        assert sorted(r.provider_id for r in inbound) == sorted(unique), "inbound rows differ from what was posted"
        assert Counter(r.status for r in inbound) == {"processed": len(unique)}

        def key(channel: str, address: str) -> str:
            return f"whatsapp:{address}" if channel == "whatsapp" else address

        rows_per = Counter(key(r.channel, r.address) for r in outbound)
        assert rows_per == expected_in, "one reply row per inbound message"
        settled = [r for r in outbound if r.id not in at_most_once]
        assert Counter(r.status for r in settled) == {"sent": len(settled)}, Counter(r.status for r in outbound)
        recorded: list[str] = []
        parts_per: Counter[str] = Counter()
        for r in settled:
            ids = list(r.payload.get("provider_ids") or [r.provider_id])
            recorded += ids
            parts_per[key(r.channel, r.address)] += len(ids)
        assert all(recorded) and len(recorded) == len(set(recorded)), "a provider id recorded twice"
        issued = {m.id: m.to for m in self.fakes.messages()}
        assert set(recorded) <= set(issued), "an id the provider never issued"
        for r in settled:
            assert {issued[i] for i in r.payload.get("provider_ids") or [r.provider_id]} == {
                key(r.channel, r.address)}, "a row recorded with an id of a message to someone else"
        got = Counter(issued.values())
        assert set(got) <= set(expected_in), "a reply to someone who did not write"
        at_most = Counter(key(r.channel, r.address) for r in outbound if r.id in at_most_once)
        for to in expected_in:
            over = got[to] - parts_per[to]
            if at_most[to]:
                assert 0 <= over <= at_most[to], f"{to}: a row left by a killed worker went out twice"
            else:
                assert over == extra_copies.get(to, 0), \
                    f"{to}: {got[to]} at the provider, {parts_per[to]} recorded, {extra_copies.get(to, 0)} extra"
        self.lost = sum(at_most[to] - (got[to] - parts_per[to]) for to in at_most)


@pytest.fixture
def stack_factory(make_helpline, fakes, tmp_path) -> Iterator[Callable[..., Stack]]:  # type: ignore[no-untyped-def]
    stacks: list[Stack] = []

    def build(database_url: str | None = None) -> Stack:
        stack = Stack(make_helpline(database_url, staff_yaml=None), fakes, tmp_path)
        stacks.append(stack)
        return stack

    try:
        yield build
    finally:
        for stack in stacks:
            stack.close()


@pytest.fixture
def pg_url(postgres_server) -> str:  # type: ignore[no-untyped-def]
    return postgres_server.create_database(f"faults_{os.getpid()}_{time.monotonic_ns()}")


# -- 1. Redis --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_redis_killed_and_restarted_during_a_burst(stack_factory, redis_server, request, db):
    """Redis SIGKILLed while a job is in flight and restarted empty: the webhooks still answer 200, the
    worker that was finishing a job stays up, and the scheduler re-enqueues what the database holds."""
    stack = stack_factory(request.getfixturevalue("pg_url") if db == "postgresql" else None)
    first = stack.start()
    posts = burst(45, seed=1)
    before, during, after = posts[:20], posts[20:40], posts[40:]
    stack.fakes.arrived.clear()
    stack.fakes.hold.clear()  # Twilio hangs: a worker is in the middle of a job when Redis dies
    try:
        assert stack.post_all(before) == []
        assert stack.fakes.arrived.wait(60), "no worker reached the provider"
        redis_server.proc.kill()  # SIGKILL: the queues, locks, notices and retry schedules are gone
        redis_server.proc.wait(10)
        stack.fakes.hold.set()  # the job in flight ends while Redis is away
        assert stack.post_all(during, pause=0.1) == []  # stored: the webhook does not need Redis
    finally:
        stack.fakes.hold.set()
        if redis_server.proc.poll() is not None:
            redis_server.start()  # the same port, empty
    assert stack.post_all(after, pause=0.02) == []
    stack.settle(len(first + posts))
    stack.check_alive()  # nothing was restarted: the workers and the scheduler rode it out
    stack.check_exactly_once(first + posts)


# -- 2. the database -------------------------------------------------------------------------------------


def test_database_away_during_a_burst(stack_factory, postgres_server, pg_url):
    """PostgreSQL stopped while sends are in flight: the webhooks answer 503 JSON (the provider retries
    them, as the test then does), the answered sends are recorded once it is back, nothing restarts."""
    stack = stack_factory(pg_url)
    first = stack.start()
    posts = burst(45, seed=2)
    before, during, after = posts[:20], posts[20:40], posts[40:]
    stack.fakes.arrived.clear()
    stack.fakes.hold.clear()  # Twilio hangs: sends are in flight when the database goes
    try:
        assert stack.post_all(before) == []
        assert stack.fakes.arrived.wait(60), "no worker reached the provider"
        postgres_server.pause()
        stack.fakes.hold.set()  # the sends in flight are answered while the database is away
        refused = stack.post_all(during, pause=0.1)
    finally:
        stack.fakes.hold.set()
        postgres_server.resume()
    assert refused, "the webhooks cannot store without the database: they must refuse"
    assert stack.post_all(after, pause=0.02) == []
    assert stack.post_all(refused) == []  # the provider's retries
    stack.settle(len(first + posts))
    stack.check_alive()  # the web, the workers and the scheduler reconnected by themselves
    stack.check_exactly_once(first + posts)


# -- 3. the providers ------------------------------------------------------------------------------------


def test_providers_failing_and_hanging_during_a_burst(stack_factory, fakes):
    """A third of the recipients meet 500s, 429s or a provider that answers after the client's 10 s timeout.

    A late answer is the one real ambiguity: the provider took the message, the client cannot know, and
    `send_one` treats the timeout as transient (a retry rather than a reply lost), so that recipient
    gets the reply twice: counted here as one extra copy each, on purpose. A provider that hangs and then
    refuses gets it once."""
    stack = stack_factory()
    first = stack.start()
    posts = burst(30, seed=3)
    recipients = sorted({p.to for p in posts})
    rng = random.Random(3)
    rng.shuffle(recipients)
    twilio = [r for r in recipients if not r.isdigit()]
    telegram = [r for r in recipients if r.isdigit()]
    late = [twilio[0], twilio[1], telegram[0]]   # taken, answered after the timeout
    fakes.fail_next(503, to=twilio[2], delay=12)  # held past the timeout, then refused
    fakes.fail_next(500, times=2, to=twilio[3])
    fakes.fail_next(429, to=twilio[4], code=20429)
    fakes.fail_next(503, to=twilio[5])
    fakes.fail_next(500, to=twilio[6])
    fakes.fail_next(429, to=twilio[6], code=20429)
    fakes.fail_next(429, to=telegram[1], retry_after=2)
    fakes.fail_next(500, to=telegram[2])
    fakes.fail_next(429, to=telegram[3], retry_after=1)
    fakes.fail_next(502, to=telegram[3])
    for to in late:
        fakes.answer_late(12, to=to)
    assert stack.post_all(posts) == []
    stack.settle(len(first + posts))
    assert not any(fakes.fail_to.values()), "every planned failure was met"
    stack.check_alive()
    stack.check_exactly_once(first + posts, extra_copies={to: 1 for to in late})


# -- 4. workers killed -----------------------------------------------------------------------------------


def test_worker_killed_at_random_points_during_a_burst(stack_factory, fakes, pg_url):
    """One worker SIGKILLed in the middle of jobs, three times, restarted each time; the other carries on.

    A kill between "sending" and the provider's answer leaves a row the scheduler marks `interrupted`
    and nobody sends again: that reply reached the contact at most once (never twice). Everything else
    is processed and answered exactly once."""
    stack = stack_factory(pg_url)
    first = stack.start()
    fakes.answer_late(0.15, times=100000)  # a provider's usual latency: kills land mid-send too
    rng = random.Random(4)
    posts = burst(45, seed=4)
    targets = ["workers.inbound.process_contact", "send", None]  # None: any job
    for chunk, target in zip((posts[:20], posts[20:40], posts[40:]), targets):
        assert stack.post_all(chunk) == []
        deadline = time.monotonic() + 60
        while not stack.running("worker-2", target):
            assert time.monotonic() < deadline, f"the worker to kill never ran {target}"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        stack.kill("worker-2")
        stack.worker("worker-2")
        stack.wait_worker("worker-2")
    stack.settle(len(first + posts), seconds=SETTLE_SECONDS + 120)
    with stack.rt.db.session() as s:
        interrupted = set(s.scalars(select(Message.id).where(
            Message.direction == "out", Message.status == "failed", Message.error_code == "interrupted")))
    assert len(interrupted) <= len(targets)  # at most the one send in flight at each kill
    stack.check_alive()
    stack.check_exactly_once(first + posts, at_most_once=interrupted)
    print(f"\n{len(targets)} kills: {len(interrupted)} sends interrupted, {stack.lost} of them never reached "
          "the provider")
