"""Sustained load through the whole stack, as the Procfile runs it: gunicorn with the Procfile's `web`
command, `helpline worker` processes (one for the `crisis` queue only, as the README asks, and N for
every queue), `helpline scheduler`, a throwaway Redis, SQLite (or PostgreSQL with --postgres) and the
fake Twilio and Telegram servers of tests/fakes.py, which record when each provider call arrives.

    python bench/load.py [--rate 20] [--seconds 45] [--workers 2] [--postgres]
    python bench/load.py --crisis [--rate 50] [--seconds 30] [--crisis-every 2]

Open loop: messages go out on a fixed schedule whatever the answers do. Each simulated contact writes a
greeting and then two questions in one of 12 languages (texts from tests/data), over WhatsApp, SMS or
Telegram, and writes its next message 2-6 s after the answer to the last one; new contacts start
whenever no one is due. Measured: webhook answer latency (request sent -> 200), first reply latency
(webhook sent -> first provider call for that contact), accepted and answered per second, and after a
drain whether anything was lost or sent twice (counted in the database and at the fake providers). The
same schedule goes to a bare Flask handler (bench/bare_reply.py) in the same run, for the ratios.
With --crisis, messages from fresh contacts that the screener rates HIGH go out amid the traffic, and
the time to the page at the on-call professional is measured. Memory (RSS, PSS) of every process at
rest, at its peak under load and at the end of the load.
"""
from __future__ import annotations

import argparse
import csv
import heapq
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (ROOT, Client, cpu_seconds, descendants, free_port, gunicorn, memory_mb,  # noqa: E402
                          percentiles, signed_form, start_redis, stop, wait_http)
from tests.fakes import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN, FakeProviders  # noqa: E402
from tests.support import SMS_NUMBER, STAFF_YAML, TELEGRAM_SECRET, WA_NUMBER  # noqa: E402

PROFESSIONALS = {"+4915112345678", "777001"}  # where STAFF_YAML's professionals are paged
CHANNELS = (("whatsapp", 0.5), ("telegram", 0.3), ("sms", 0.2))


@dataclass
class Sent:
    """One webhook: when it went, how it was answered, when the first reply to its contact arrived."""
    key: str                 # the recipient id at the provider (what a reply is addressed to)
    kind: str                # message | crisis | bare
    person: "Person | None" = None
    due: float = 0.0         # scheduled wall-clock time
    at: float = 0.0          # wall-clock time the request went
    status: int = 0
    answer_ms: float = 0.0
    reply_at: float | None = None
    step: int = 0            # which message of the contact's script


@dataclass
class Person:
    channel: str
    address: str             # E.164 number or Telegram chat id
    lang: str
    script: list[str]
    step: int = 0
    update_id: list[int] = field(default_factory=lambda: [0])

    @property
    def key(self) -> str:
        return f"whatsapp:{self.address}" if self.channel == "whatsapp" else self.address


class Watch:
    """Follows a fake provider's log; the first call to a recipient a message waits for answers it."""

    def __init__(self, fakes: FakeProviders, on_reply=None) -> None:  # type: ignore[no-untyped-def]
        self.fakes, self.on_reply, self.seen = fakes, on_reply, 0
        self.waiting: dict[str, Sent] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def expect(self, rec: Sent) -> None:
        with self.lock:
            self.waiting[rec.key] = rec

    def cancel(self, rec: Sent) -> None:
        with self.lock:
            if self.waiting.get(rec.key) is rec:
                del self.waiting[rec.key]

    def pending(self) -> int:
        with self.lock:
            return len(self.waiting)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.fakes.lock:
                new = self.fakes.sent[self.seen:]
                self.seen += len(new)
            for s in new:
                if s.method not in ("Messages", "sendMessage"):
                    continue
                with self.lock:
                    rec = self.waiting.pop(s.to, None)
                if rec is not None:
                    rec.reply_at = s.at
                    if self.on_reply:
                        self.on_reply(rec)
            self.stopping.wait(0.005)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def corpus() -> dict[str, tuple[list[str], list[str]]]:
    """Greetings and questions per language, from the held-out evaluation sets."""
    greet: dict[str, list[str]] = {}
    for name in ("lang_eval.tsv", "lang_eval_b.tsv"):
        for row in read_tsv(ROOT / "tests" / "data" / name):
            greet.setdefault(row["lang"], []).append(row["text"])
    ask: dict[str, list[str]] = {}
    for row in read_tsv(ROOT / "tests" / "data" / "faq_eval.tsv"):
        ask.setdefault(row["lang"].split("-")[0], []).append(row["text"])
    return {lang: (greet[lang], ask[lang]) for lang in ask if lang in greet}


def crisis_texts(env: dict, held_out: bool = False) -> list[tuple[str, bool]]:
    """HIGH messages of the development set (with held_out: of the held-out set tests/data/crisis_eval.tsv,
    which neither the net nor the pre-screen learnt from) that the current screener rates HIGH (a miss is a
    question of recall, measured by bench/crisis_eval.py, not of latency), each with whether the dispatcher's
    phrase pre-screen sends it to the `crisis` queue (the others wait in `high` until screened). No text is
    printed."""
    source = ROOT / ("tests/data/crisis_eval.tsv" if held_out else "content/crisis/labelled_dev.tsv")
    rows = [r["text"] for r in read_tsv(source) if r["label"] == "high"]
    out = subprocess.run([sys.executable, "-m", "helpline.cli", "crisis", "classify"], input="\n".join(rows) + "\n",
                         env=env, capture_output=True, text=True, check=True, timeout=300).stdout.splitlines()
    from helpline.content import load_content
    from helpline.crisis import shared_screener
    screener = shared_screener(load_content())
    return [(text, screener.quick_high(text)) for text, line in zip(rows, out) if json.loads(line).get("level") == "high"]


class Stack:
    """Every process of the helpline, plus the bare yardstick; stop() ends all of them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.data = tempfile.mkdtemp(prefix="bench-load-")
        self.fakes, self.bare_fakes = FakeProviders().start(), FakeProviders().start()
        self.redis_proc, redis_url, self.redis_dir = start_redis()
        self.pg = None
        self.port, self.bare_port = free_port(), free_port()
        self.procs: list[tuple[str, subprocess.Popen]] = [("redis", self.redis_proc)]
        from helpline.crypto import new_key
        self.env = dict(os.environ, HELPLINE_DATA_DIR=self.data, REDIS_URL=redis_url, SECRET_KEY="bench-load",
                        HELPLINE_ENCRYPTION_KEY=new_key(), PUBLIC_BASE_URL=f"http://127.0.0.1:{self.port}",
                        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_SMS_NUMBER=SMS_NUMBER,
                        TWILIO_WHATSAPP_NUMBER=WA_NUMBER, TWILIO_API_BASE_URL=self.fakes.url,
                        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_API_BASE_URL=self.fakes.url,
                        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET, ESCALATION_ACK_SECONDS="600",
                        HELPLINE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        try:
            if args.postgres:
                from tests.conftest import PostgresServer  # the test suite's throwaway cluster
                self.pg = PostgresServer().start()
                self.env["DATABASE_URL"] = self.pg.create_database("bench_load")
            else:
                self.env["DATABASE_URL"] = f"sqlite:///{self.data}/helpline.db"
            exe = [sys.executable, "-m", "helpline.cli"]
            staff = os.path.join(self.data, "staff.yaml")
            Path(staff).write_text(STAFF_YAML)
            subprocess.run(exe + ["db", "upgrade"], env=self.env, check=True, capture_output=True, timeout=120)
            subprocess.run(exe + ["staff", "import", staff], env=self.env, check=True, capture_output=True, timeout=120)
            self.log = open(os.path.join(self.data, "processes.log"), "w")
            self.procs.append(("web", gunicorn("helpline.wsgi:app", self.port, self.env)))
            for i in range(args.crisis_workers):
                self.procs.append((f"worker crisis{i + 1}", self._spawn(exe + ["worker", "crisis"])))
            for i in range(args.workers):
                self.procs.append((f"worker {i + 1}", self._spawn(exe + ["worker"])))
            self.procs.append(("scheduler", self._spawn(exe + ["scheduler"])))
            if not args.crisis:
                bare_env = dict(self.env, BARE_PROVIDER_URL=self.bare_fakes.url)
                self.procs.append(("bare Flask (yardstick)", gunicorn("bench.bare_reply:app", self.bare_port, bare_env)))
            wait_http(self.port)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        return subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def processes(self) -> list[tuple[str, int]]:
        """(label, pid) of every process, children included (gunicorn workers, RQ's scheduler child)."""
        out = []
        for label, proc in self.procs:
            for pid in descendants(proc.pid):
                out.append((label if pid == proc.pid else f"{label}: child", pid))
        if self.pg is not None:
            pidfile = Path(self.pg.dir) / "data" / "postmaster.pid"
            if pidfile.exists():
                out += [("postgresql", pid) for pid in descendants(int(pidfile.read_text().split()[0]))]
        return out

    def stop(self) -> None:
        for _label, proc in reversed(self.procs):
            if proc is self.redis_proc:
                continue
            stop(proc)
        self.redis_proc.terminate()
        self.redis_proc.wait(10)
        if self.pg is not None:
            self.pg.stop()
        self.fakes.stop()
        self.bare_fakes.stop()
        shutil.rmtree(self.redis_dir, ignore_errors=True)


class Load:
    """The open-loop schedule, the simulated contacts and what came back."""

    def __init__(self, stack: Stack, rng: random.Random, texts: dict, crisis: list[tuple[str, bool]]) -> None:
        self.stack, self.rng, self.texts, self.crisis = stack, rng, texts, crisis
        self.think = random.Random(rng.random())  # used by the watch thread only
        self.client, self.bare = Client(stack.port), Client(stack.bare_port)
        self.public = stack.env["PUBLIC_BASE_URL"]
        self.due: list[tuple[float, int, Person]] = []
        self.due_lock = threading.Lock()
        self.watch = Watch(stack.fakes, self._answered)
        self.bare_watch = Watch(stack.bare_fakes)
        self.records: list[Sent] = []
        self.counter = 0
        self.pool = ThreadPoolExecutor(64)

    def _answered(self, rec: Sent) -> None:
        p = rec.person
        if p is not None and rec.kind == "message" and p.step < len(p.script):
            with self.due_lock:
                heapq.heappush(self.due, (rec.reply_at + self.think.uniform(2, 6), id(p), p))

    def new_person(self, prefix: int, script: list[str] | None = None) -> Person:
        self.counter += 1
        r, acc = self.rng.random(), 0.0
        channel = "sms"
        for name, share in CHANNELS:
            acc += share
            if r < acc:
                channel = name
                break
        address = str(prefix * 10_000_000 + self.counter) if channel == "telegram" else f"+49{prefix}{self.counter:08d}"
        lang = self.rng.choice(sorted(self.texts))
        greet, ask = self.texts[lang]
        return Person(channel, address, lang, script or [self.rng.choice(greet), *self.rng.sample(ask, 2)])

    def request(self, p: Person, text: str) -> tuple[str, bytes, dict[str, str]]:
        if p.channel == "telegram":
            p.update_id[0] += 1
            chat = int(p.address)
            update = {"update_id": chat * 100 + p.update_id[0], "message": {
                "message_id": p.update_id[0], "date": int(time.time()), "text": text,
                "from": {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": p.lang},
                "chat": {"id": chat, "type": "private", "first_name": "Bench"}}}
            return "/webhooks/telegram", json.dumps(update).encode(), {
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        wa = p.channel == "whatsapp"
        params = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": TWILIO_SID,
                  "From": p.key, "To": f"whatsapp:{WA_NUMBER}" if wa else SMS_NUMBER, "Body": text,
                  "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        if wa:
            params.update(ProfileName="Bench", WaId=p.address.lstrip("+"))
        body, sig = signed_form(self.public + "/webhooks/twilio", params, TWILIO_TOKEN)
        return "/webhooks/twilio", body, {"Content-Type": "application/x-www-form-urlencoded",
                                          "X-Twilio-Signature": sig}

    def _post(self, client: Client, watch: Watch, rec: Sent, path: str, body: bytes, headers: dict) -> None:
        rec.at = time.time()
        rec.status, _, seconds = client.request("POST", path, body, headers)
        rec.answer_ms = seconds * 1000
        if rec.status != 200:
            watch.cancel(rec)

    def send(self, p: Person, kind: str, due: float) -> None:
        text = p.script[p.step]
        rec = Sent(p.key, kind, p, due, step=p.step)
        p.step += 1
        self.records.append(rec)
        self.watch.expect(rec)
        self.pool.submit(self._post, self.client, self.watch, rec, *self.request(p, text))

    def send_bare(self, p: Person, text: str, due: float) -> None:
        """The same message from a twin contact to the bare handler."""
        address = "9" + p.address if p.channel == "telegram" else "+49162" + p.address[6:]
        twin = Person(p.channel, address, p.lang, [text])
        rec = Sent(twin.key, "bare", None, due)
        self.records.append(rec)
        self.bare_watch.expect(rec)
        self.pool.submit(self._post, self.bare, self.bare_watch, rec, *self.request(twin, text))

    def run(self, rate: float, seconds: float, crisis_every: float, bare: bool) -> None:
        start = time.time() + 0.2
        n, next_crisis = int(rate * seconds), start + 1.0
        for i in range(n):
            due = start + i / rate
            while next_crisis <= due and crisis_every > 0:
                self._sleep_until(next_crisis)
                text, fast = self.rng.choice(self.crisis)
                self.send(self.new_person(161, [text]), "crisis" if fast else "crisis-slow", next_crisis)
                next_crisis += crisis_every
            self._sleep_until(due)
            with self.due_lock:
                person = heapq.heappop(self.due)[2] if self.due and self.due[0][0] <= due else None
            person = person or self.new_person(160)
            self.send(person, "message", due)
            if bare:
                self.send_bare(person, person.script[person.step - 1], due)

    @staticmethod
    def _sleep_until(t: float) -> None:
        delay = t - time.time()
        if delay > 0:
            time.sleep(delay)


def snapshot(stack: Stack) -> dict[tuple[str, int], tuple[float, float | None]]:
    return {(label, pid): memory_mb(pid) for label, pid in stack.processes()}


def database_counts(env: dict, since_id: int = 0) -> dict[str, int]:
    """Rows by direction and status, the provider calls the sent rows stand for, and the inbound messages
    after `since_id` that were processed without any reply."""
    from sqlalchemy import func, select

    from helpline import crypto
    from helpline.config import Config
    from helpline.db import Database
    from helpline.models import Conversation, Message
    from helpline.senders import LIMITS, split_text
    crypto.configure(Config.from_env(env))
    db = Database(env["DATABASE_URL"])
    try:
        with db.engine.connect() as conn:
            m = Message.__table__.c
            counts = {f"{d}:{s}": n for d, s, n in conn.execute(
                select(m.direction, m.status, func.count()).group_by(m.direction, m.status))}
            calls = 0
            for channel, text in conn.execute(select(Message.channel, Message.text).where(
                    Message.direction == "out", Message.status.in_(("sent", "delivered", "read")))):
                calls += len(split_text(text or "", LIMITS.get(channel, 1600)))
            counts["provider_calls"] = calls
            counts["max_id"] = conn.execute(select(func.max(m.id))).scalar() or 0
            # inbound messages (after since_id) that got no outbound row before the contact's next message
            last_in: dict[int, tuple[int, str | None]] = {}
            silent: list[tuple[int, str | None]] = []
            for mid, cid, direction, status, payload in conn.execute(select(
                    m.id, m.contact_id, m.direction, m.status, m.payload).where(
                    m.contact_id.is_not(None), m.status != "note").order_by(m.id)):
                if direction == "in":
                    if cid in last_in:
                        silent.append((cid, last_in[cid][1]))
                        del last_in[cid]
                    level = ((payload or {}).get("screening") or {}).get("level")
                    if mid > since_id and status == "processed":
                        last_in[cid] = (mid, level)
                else:
                    last_in.pop(cid, None)
            silent += [(cid, level) for cid, (_mid, level) in last_in.items()]
            waiting = set(conn.execute(select(Conversation.contact_id).where(Conversation.status == "waiting")).scalars())
            counts["silent"] = len(silent)
            counts["silent_high"] = sum(1 for _cid, level in silent if level == "high")
            counts["silent_waiting"] = sum(1 for cid, level in silent if level != "high" and cid in waiting)
        return counts
    finally:
        db.dispose()


def escalation_codes(env: dict) -> dict[str, tuple[str, float, float]]:
    """Contact address hash -> (escalation code, when its first message was stored, when processed)."""
    from sqlalchemy import func, select

    from helpline.db import Database
    from helpline.models import Contact, Escalation, Message
    db = Database(env["DATABASE_URL"])
    try:
        with db.engine.connect() as conn:
            first = select(Message.contact_id, func.min(Message.id).label("mid")).where(
                Message.direction == "in").group_by(Message.contact_id).subquery()
            rows = conn.execute(select(Contact.address_hash, Escalation.code, Message.created_at, Message.processed_at)
                                .join(Contact, Contact.id == Escalation.contact_id)
                                .join(first, first.c.contact_id == Contact.id)
                                .join(Message, Message.id == first.c.mid))
            return {h: (code, stored.timestamp(), processed.timestamp() if processed else float("nan"))
                    for h, code, stored, processed in rows}
    finally:
        db.dispose()


def rows_waiting(db) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from helpline.models import Message
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Message).where(
            ((Message.direction == "in") & (Message.status == "received")) |
            ((Message.direction == "out") & Message.status.in_(("queued", "sending"))))).scalar() or 0


def trace(load: Load, t0: float) -> None:
    """One line: seconds since the load began, webhooks sent, first replies seen, RQ queue lengths, the
    screening stage's waiting set and each process's CPU seconds so far."""
    import redis

    r = redis.Redis.from_url(load.stack.env["REDIS_URL"], socket_timeout=2)
    try:
        queues = {q: r.llen(f"rq:queue:{q}") for q in ("crisis", "high", "default")}
        screen = r.zcard("helpline:screen")
    except redis.RedisError as e:
        queues, screen = {"redis": type(e).__name__}, -1
    sent = sum(1 for rec in load.records if rec.kind != "bare")
    answered = sum(1 for rec in load.records if rec.kind != "bare" and rec.reply_at)
    cpu = " ".join(f"{name.replace(' ', '')}={cpu_seconds(pid):.1f}" for name, pid in load.stack.processes()
                   if not name.startswith("bare"))
    print(f"  trace {time.time() - t0:6.1f}s sent {sent} answered {answered} queues {queues} "
          f"screen {screen} cpu {cpu}", flush=True)


def wait_idle(load: Load, db, timeout: float, t0: float | None = None) -> float:  # type: ignore[no-untyped-def]
    """Seconds until no row waits and every message has its reply, or until no row has waited for 3 s (a
    message answered with silence on purpose stays unanswered); NaN when `timeout` passes first."""
    t, quiet_since, last_trace = time.time(), None, 0.0
    while time.time() - t < timeout:
        if t0 is not None and time.time() - last_trace >= 2:
            trace(load, t0)
            last_trace = time.time()
        if rows_waiting(db) == 0:
            quiet_since = quiet_since or time.time()
            if (load.watch.pending() == 0 and load.bare_watch.pending() == 0) or time.time() - quiet_since >= 3:
                return quiet_since - t
        else:
            quiet_since = None
        time.sleep(0.2)
    return float("nan")


def phases(db, since_id: int) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """From the rows' own timestamps: webhook stored -> processed, and reply row made -> sent."""
    from sqlalchemy import select

    from helpline.models import Message
    with db.engine.connect() as conn:
        rows = conn.execute(select(Message.direction, Message.created_at, Message.processed_at, Message.sent_at).where(
            Message.id > since_id, Message.contact_id.is_not(None))).all()
    processed = [(p - c).total_seconds() * 1000 for d, c, p, _s in rows if d == "in" and p]
    sent = [(x - c).total_seconds() * 1000 for d, c, _p, x in rows if d == "out" and x]
    return percentiles(processed), percentiles(sent)


def fmt(p: dict[str, float]) -> str:
    return f"p50 {p['p50']:7.1f}  p95 {p['p95']:7.1f}  p99 {p['p99']:7.1f} ms  (n={p['n']})"


def report_memory(rest: dict, peak: dict, end: dict) -> None:
    print("\nmemory (MB): RSS at rest / peak under load / end of load; PSS at rest / end of load")
    total = [0.0] * 5
    for key in sorted(rest, key=lambda k: (k[0].startswith("bare"), k[0], k[1])):
        label, pid = key
        r = rest[key]
        pk = peak.get(key, (0.0, None))
        e = end.get(key, (0.0, None))
        row = [r[0], pk[0], e[0], r[1] or 0.0, e[1] or 0.0]
        if not label.startswith(("bare", "postgresql")):
            total = [a + b for a, b in zip(total, row)]
        print(f"  {label:28s} {pid:>7d}  {row[0]:6.1f} {row[1]:6.1f} {row[2]:6.1f}   {row[3]:6.1f} {row[4]:6.1f}")
    print(f"  {'helpline in all':28s} {'':>7s}  {total[0]:6.1f} {total[1]:6.1f} {total[2]:6.1f}   "
          f"{total[3]:6.1f} {total[4]:6.1f}   (Redis included, the yardstick and PostgreSQL not; peak column: "
          "sum of each process's own peak)")


def report_cpu(cpu: dict, messages: int, idle: dict, busy: float) -> None:
    """CPU time per accepted message above each process's CPU at rest, from the load's start until the
    backlog drained."""
    groups: dict[str, float] = {}
    for (label, _pid), seconds in cpu.items():
        if label.startswith("bare"):
            continue
        name = "web" if label.startswith("web") else "workers" if label.startswith("worker") else label
        groups[name] = groups.get(name, 0.0) + seconds
    total = sum(groups.values())
    per = {k: v / max(messages, 1) * 1000 for k, v in groups.items()}
    print(f"\nCPU per accepted message: {total / max(messages, 1) * 1000:.0f} ms in all ("
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
          + f"); {total:.0f} CPU-s for {messages} messages in {busy:.0f} s: at most "
          f"{messages / max(total, 1e-9) * (os.cpu_count() or 1):.0f} messages/s on {os.cpu_count()} cores with nothing "
          f"else running; at rest the helpline's processes use {sum(v for k, v in idle.items() if not k[0].startswith('bare')) * 100:.0f} % of a core")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, help="messages/s (default 20, with --crisis 50)")
    ap.add_argument("--seconds", type=float, help="length of the load (default 45, with --crisis 30)")
    ap.add_argument("--workers", type=int, default=2, help="`helpline worker` processes on every queue")
    ap.add_argument("--crisis-workers", type=int, default=1, help="`helpline worker crisis` processes")
    ap.add_argument("--crisis", action="store_true", help="crisis messages amid the traffic; no bare yardstick")
    ap.add_argument("--crisis-every", type=float, default=2.0, help="seconds between crisis messages")
    ap.add_argument("--held-out", action="store_true",
                    help="crisis messages of the held-out set tests/data/crisis_eval.tsv")
    ap.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    ap.add_argument("--drain", type=float, default=150.0, help="longest wait for the backlog after the load")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--trace", action="store_true", help="every 2 s: sent, answered, RQ queue lengths")
    ap.add_argument("--keep", action="store_true", help="keep the data dir (SQLite file, process logs)")
    args = ap.parse_args()
    rate = args.rate or (50.0 if args.crisis else 20.0)
    seconds = args.seconds or (30.0 if args.crisis else 45.0)
    rng = random.Random(args.seed)
    texts = corpus()
    load_before = os.getloadavg()
    stack = Stack(args)
    try:
        crisis = crisis_texts(stack.env, args.held_out) if args.crisis else []
        if not args.crisis:
            wait_http(stack.bare_port, "/")
        load = Load(stack, rng, texts, crisis)
        from helpline.db import Database
        db = Database(stack.env["DATABASE_URL"])
        for _ in range(6):  # warm-up: workers load their models, every path is taken once
            p = load.new_person(160)
            load.send(p, "message", time.time())
            if not args.crisis:
                load.send_bare(p, p.script[0], time.time())
        load.pool.shutdown(wait=True)
        load.pool = ThreadPoolExecutor(64)
        warm = wait_idle(load, db, 180)
        if warm != warm or load.watch.pending():
            print(Path(stack.data, "processes.log").read_text()[-3000:], file=sys.stderr)
            raise RuntimeError("warm-up messages were not answered within 180 s")
        time.sleep(3)
        rest = snapshot(stack)
        cpu_rest = {k: cpu_seconds(k[1]) for k in rest}
        time.sleep(5)
        idle = {k: (cpu_seconds(k[1]) - v) / 5 for k, v in cpu_rest.items()}  # CPU/s of a process at rest
        cpu_before = {k: cpu_seconds(k[1]) for k in rest}
        before = database_counts(stack.env)
        calls_before = len(stack.fakes.messages())
        load.records.clear()
        peak: dict = {}
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(2.0):
                if args.trace:
                    trace(load, t0)
                for k, v in snapshot(stack).items():
                    if v[0] > peak.get(k, (0.0, None))[0]:
                        peak[k] = v

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.time()
        load.run(rate, seconds, args.crisis_every if args.crisis else 0, bare=not args.crisis)
        end_of_sending = time.time()
        sampling.set()
        sampler.join()
        end = snapshot(stack)
        for k, v in end.items():
            if v[0] > peak.get(k, (0.0, None))[0]:
                peak[k] = v
        backlog = sum(1 for r in load.records if r.kind != "bare" and (r.reply_at or 1e18) > end_of_sending)
        load.pool.shutdown(wait=True)
        drained = wait_idle(load, db, args.drain, t0 if args.trace else None)
        busy = time.time() - t0 if drained != drained else end_of_sending + drained - t0
        cpu = {k: cpu_seconds(k[1]) - cpu_before.get(k, 0.0) - idle.get(k, 0.0) * (time.time() - t0)
               for k in snapshot(stack)}
        after = database_counts(stack.env, before["max_id"])
        stages = phases(db, before["max_id"])
        codes = escalation_codes(stack.env) if args.crisis else {}
        with stack.fakes.lock:
            provider_log = list(stack.fakes.sent)
        calls_after = len(stack.fakes.messages())
        load_after = os.getloadavg()
        report(args, rate, seconds, load, t0, end_of_sending, backlog, drained, before, after,
               calls_after - calls_before, codes, provider_log)
        print(f"  where the time goes (row timestamps): stored -> processed {fmt(stages[0])}")
        print(f"                                        reply row -> sent   {fmt(stages[1])}")
        report_memory(rest, peak, end)
        report_cpu(cpu, sum(1 for r in load.records if r.kind != "bare" and r.status == 200), idle, busy)
        print(f"\nmachine load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
              f"{os.cpu_count()} cores")
    finally:
        stack.stop()
        if args.keep:
            print(f"data kept in {stack.data}")
        else:
            shutil.rmtree(stack.data, ignore_errors=True)
    return 0


def report(args, rate, seconds, load, t0, end_of_sending, backlog, drained, before, after,  # type: ignore[no-untyped-def]
           calls, codes, provider_log) -> None:
    from helpline import crypto
    recs = [r for r in load.records if r.kind != "bare"]
    bare = [r for r in load.records if r.kind == "bare"]
    window = end_of_sending - t0
    accepted = [r for r in recs if r.status == 200]
    answered = [r for r in recs if r.reply_at is not None]
    last = max((r.reply_at for r in answered), default=end_of_sending)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    stored_in = sum(v for k, v in delta.items() if k.startswith("in:"))
    db = "PostgreSQL" if args.postgres else "SQLite (WAL)"
    print(f"load: {len(recs)} messages in {window:.1f} s (target {rate:g}/s for {seconds:g} s), "
          f"{sum(r.kind.startswith('crisis') for r in recs)} of them crisis; gunicorn 2 gthread x 8, "
          f"{args.crisis_workers} crisis-only + {args.workers} all-queue `helpline worker`, scheduler, {db}, Redis")
    lateness = max((r.at - r.due for r in load.records), default=0.0) * 1000
    print(f"  generator kept the schedule within {lateness:.0f} ms")
    print(f"  accepted (200)           {len(accepted):6d}   {len(accepted) / window:6.1f}/s")
    print(f"  answered (first reply)   {len(answered):6d}   {len(answered) / max(last - t0, 1e-9):6.1f}/s "
          f"over {last - t0:.1f} s; {sum(1 for r in answered if r.reply_at <= end_of_sending) / window:.1f}/s "
          f"within the load")
    print(f"  unanswered when the load stopped: {backlog}; all answered and no row waiting "
          f"{drained:.1f} s after it" if drained == drained else
          f"  unanswered when the load stopped: {backlog}; NOT drained within {args.drain:g} s")
    silent = after.get("silent", 0)
    unexplained = max(0, len(accepted) - len(answered) - silent)
    missing_calls = max(0, delta.get("provider_calls", 0) - calls)
    lost = (len(recs) - len(accepted)) + unexplained + delta.get("in:received", 0) + \
        after.get("out:queued", 0) + after.get("out:sending", 0) + delta.get("out:failed", 0) + missing_calls
    waiting = after.get("out:queued", 0) + after.get("out:sending", 0)
    if drained == drained:
        print(f"  lost: {lost}  (webhooks not accepted {len(recs) - len(accepted)}, inbound rows unprocessed "
              f"{delta.get('in:received', 0)}, outbound rows waiting {waiting} or failed {delta.get('out:failed', 0)}, "
              f"sent rows that never reached the provider {missing_calls}, replies missing without a cause in the "
              f"database {unexplained})")
    else:
        print(f"  lost: not known, the backlog did not drain: {delta.get('in:received', 0)} inbound rows unprocessed "
              f"and {waiting} outbound rows waiting when the bench stopped; webhooks not accepted "
              f"{len(recs) - len(accepted)}, outbound rows failed {delta.get('out:failed', 0)}, sent rows that never "
              f"reached the provider {missing_calls}")
    if silent:
        high, waiting = after.get("silent_high", 0), after.get("silent_waiting", 0)
        print(f"  processed without any reply row: {silent} ({high} screened HIGH again within 5 minutes of a "
              f"first crisis message: paged again, no second emergency text; {waiting} from contacts waiting for a "
              f"volunteer, told 'still waiting' at most every 2 minutes; {silent - high - waiting} other)")
    print(f"  stored inbound rows {stored_in} for {len(accepted)} accepted webhooks; provider calls {calls} for "
          f"{delta.get('provider_calls', 0)} sent parts in the database (sent twice: {calls - delta.get('provider_calls', 0)})")
    for r in recs:
        if r.status == 200 and r.reply_at is None and r.person is not None:
            p = r.person
            print(f"    no reply: {p.channel} {p.address}, {p.lang}, message {r.step + 1} of {len(p.script)}: "
                  f"{p.script[r.step][:60]!r}; provider calls to it at "
                  f"{[round(x.at - r.at, 2) for x in provider_log if x.to == p.key]} s", file=sys.stderr)
    hw = percentiles([r.answer_ms for r in accepted])
    hr = percentiles([(r.reply_at - r.at) * 1000 for r in answered if r.kind == "message"])
    print(f"  webhook answer   helpline {fmt(hw)}")
    if bare:
        bw = percentiles([r.answer_ms for r in bare if r.status == 200])
        br = percentiles([(r.reply_at - r.at) * 1000 for r in bare if r.reply_at is not None])
        print(f"                   bare     {fmt(bw)}")
        print(f"                   ratio helpline / bare: p50 {hw['p50'] / bw['p50']:.1f}, p99 {hw['p99'] / bw['p99']:.1f}")
    print(f"  first reply      helpline {fmt(hr)}")
    if bare:
        print(f"                   bare     {fmt(br)}")
        print(f"                   ratio helpline / bare: p50 {hr['p50'] / br['p50']:.1f}, p99 {hr['p99'] / br['p99']:.1f}")
        print(f"  goal first reply p50 <= 100 ms: {'met' if hr['p50'] <= 100 else 'NOT met'}; "
              f"p99 <= 500 ms: {'met' if hr['p99'] <= 500 else 'NOT met'} (at {len(recs) / window:.1f} msg/s)")
    crises = [r for r in recs if r.kind.startswith("crisis")]
    if crises:
        pages: dict[str, float] = {}
        for s in provider_log:
            if s.to in PROFESSIONALS:
                for code, _stored, _processed in codes.values():
                    if code in s.text and code not in pages:
                        pages[code] = s.at
        lat, to_processed, to_page, by_lane, missing = [], [], [], {"crisis": [], "crisis-slow": []}, 0
        for r in crises:
            p = r.person
            code, stored, processed = codes.get(crypto.address_hash(p.channel, p.address), ("", 0.0, 0.0))
            if code not in pages:
                missing += 1
            else:
                lat.append((pages[code] - r.at) * 1000)
                by_lane[r.kind].append(lat[-1])
                to_processed.append((processed - stored) * 1000)
                to_page.append((pages[code] - processed) * 1000)
        print(f"  crisis -> page at the professional {fmt(percentiles(lat))}; max {max(lat, default=0):.0f} ms; "
              f"no page: {missing}")
        print(f"  crisis -> emergency numbers to the contact "
              f"{fmt(percentiles([(r.reply_at - r.at) * 1000 for r in crises if r.reply_at]))}")
        print(f"    phrase pre-screen hit (`crisis` queue)  {fmt(percentiles(by_lane['crisis']))}")
        print(f"    caught by the model only (`high` queue) {fmt(percentiles(by_lane['crisis-slow']))}")
        print(f"    of which stored -> processed {fmt(percentiles(to_processed))}")
        print(f"             processed -> page   {fmt(percentiles(to_page))}")
        p99 = percentiles(lat)["p99"]
        print(f"  goal crisis page p99 <= 1 s amid {len(recs) / window:.0f} msg/s: {'met' if p99 <= 1000 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
