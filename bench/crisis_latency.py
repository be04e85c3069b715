"""Time from a crisis webhook to the first page at the (fake) provider: idle, and behind a backlog of
10,000 queued FAQ messages. The processes run as `helpline serve` runs them: gunicorn, one worker for
the crisis queue only, one for every queue, the scheduler.

    python bench/crisis_latency.py [--backlog 10000] [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import free_port, gunicorn, signed_body, start_redis, stop, wait_http  # noqa: E402
from tests.fakes import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN, FakeProviders  # noqa: E402
from tests.support import STAFF_YAML  # noqa: E402

PRO = "+4915112345678"
CRISIS = "I can't go on anymore, I want to kill myself tonight"


def backlog(env: dict, n: int) -> None:
    """n contacts with one stored FAQ question each, and their processing jobs queued on `high`."""
    import redis
    from rq import Queue
    from sqlalchemy import insert

    from helpline import crypto
    from helpline.config import Config
    from helpline.db import Database
    from helpline.models import Contact, Message, new_alias, utcnow
    cfg = Config.from_env(env)
    crypto.configure(cfg)
    db = Database(cfg.database_url)
    now = utcnow()
    with db.session() as s:
        ids = []
        for i in range(n):
            number = f"+49160{i:08d}"
            cid = s.execute(insert(Contact).values(
                address_hash=crypto.address_hash("sms", number), channel="sms", address=number, alias=new_alias(),
                region="DE", language="en", state={"welcomed": True, "node": "main_menu"}, language_confirmed=True,
                accepts_english=False, unsubscribed=False, unreachable=False, block_notified=False,
                flagged_abusive=False, created_at=now, last_seen_at=now).returning(Contact.id)).scalar_one()
            s.execute(insert(Message).values(direction="in", channel="sms", contact_id=cid, text="How do I apply for asylum?",
                                             payload={}, author="contact", status="received", created_at=now,
                                             attempts=0, private=False))
            ids.append(cid)
    q = Queue("high", connection=redis.Redis.from_url(env["REDIS_URL"]))
    with q.connection.pipeline() as pipe:
        for cid in ids:
            q.enqueue("workers.inbound.process_contact", cid, pipeline=pipe, result_ttl=60, failure_ttl=3600)
        pipe.execute()
    db.dispose()


def measure(fakes: FakeProviders, port: int, number: str) -> float:
    url = f"http://127.0.0.1:{port}/webhooks/twilio"
    body, sig = signed_body(url, number, CRISIS, TWILIO_TOKEN)
    before = len(fakes.messages(PRO))
    t = time.perf_counter()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                          "X-Twilio-Signature": sig})
    urllib.request.urlopen(req, timeout=15).read()
    while len(fakes.messages(PRO)) == before:
        if time.perf_counter() - t > 120:
            raise RuntimeError("no page within 120 s")
        time.sleep(0.005)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlog", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    fakes = FakeProviders().start()
    redis_proc, redis_url, _ = start_redis()
    data = tempfile.mkdtemp(prefix="bench-crisis-")
    port = free_port()
    from helpline.crypto import new_key
    env = dict(os.environ, HELPLINE_DATA_DIR=data, REDIS_URL=redis_url, SECRET_KEY="bench",
               DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{data}/helpline.db",
               HELPLINE_ENCRYPTION_KEY=new_key(), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
               TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_SMS_NUMBER="+14155550100",
               TWILIO_API_BASE_URL=fakes.url, TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_API_BASE_URL=fakes.url,
               TELEGRAM_WEBHOOK_SECRET="s", ESCALATION_ACK_SECONDS="600", HELPLINE_LOG_LEVEL="WARNING")
    staff = os.path.join(data, "staff.yaml")
    open(staff, "w").write(STAFF_YAML)
    exe = [sys.executable, "-m", "helpline.cli"]
    subprocess.run(exe + ["db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(exe + ["staff", "import", staff], env=env, check=True, capture_output=True)
    procs = [gunicorn("helpline.wsgi:app", port, env),
             subprocess.Popen(exe + ["worker", "crisis"], env=env, start_new_session=True),
             subprocess.Popen(exe + ["worker", "crisis", "high", "default", "low"], env=env, start_new_session=True),
             subprocess.Popen(exe + ["scheduler"], env=env, start_new_session=True)]
    try:
        wait_http(port)
        time.sleep(3)  # workers load content and models
        measure(fakes, port, "+4917000000000")  # warm-up
        idle = [measure(fakes, port, f"+49170000000{i:02d}") for i in range(1, args.runs + 1)]
        t = time.perf_counter()
        backlog(env, args.backlog)
        filled = time.perf_counter() - t
        loaded = [measure(fakes, port, f"+49171000000{i:02d}") for i in range(1, args.runs + 1)]
        print(f"crisis webhook -> first page at the provider ({args.runs} runs each)")
        print(f"  idle:                          median {statistics.median(idle) * 1000:.0f} ms, "
              f"max {max(idle) * 1000:.0f} ms")
        print(f"  behind {args.backlog} queued FAQ messages: median {statistics.median(loaded) * 1000:.0f} ms, "
              f"max {max(loaded) * 1000:.0f} ms  (backlog stored and queued in {filled:.1f} s)")
        print(f"  ratio loaded / idle (median): {statistics.median(loaded) / statistics.median(idle):.2f}")
    finally:
        for p in procs:
            stop(p)
        redis_proc.terminate()
        fakes.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
