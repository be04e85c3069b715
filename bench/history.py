"""How cost grows with history: the webhook answer and the supervisor's dashboard with 1k, 10k and 100k
stored conversations (each with its contact, four messages, audit rows; one in 50 with an escalation).

    python bench/history.py [--sizes 1000,10000,100000] [--posts 300] [--requests 150] [--postgres]

History is seeded with bulk Core inserts through the real column types (texts and addresses encrypted,
addresses hashed), 60 % of the conversations bot-only and 40 % handled by a volunteer and closed; the
live part (25 waiting, 12 active, 30 in the bot) stays the same at every size, as a queue does. The
web process runs the Procfile's `web` command; no workers run (the webhook's work ends at the Redis
push). For every size: webhook answer latency (signed Twilio posts at 50/s, half from stored contacts,
half new), then, logged in as a supervisor, each request the dashboard makes (it polls four of them
every 2 s) and the four in parallel as one refresh. The plans of the list queries (captured from the
real handlers in this process) are printed for the largest size: EXPLAIN QUERY PLAN on SQLite,
EXPLAIN ANALYZE on PostgreSQL (after ANALYZE, as autovacuum would).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (Client, cpu_seconds, descendants, free_port, gunicorn, open_loop, percentiles,  # noqa: E402
                          signed_form, start_redis, stop, wait_http)
from tests.fakes import TWILIO_SID, TWILIO_TOKEN  # noqa: E402
from tests.support import SMS_NUMBER, STAFF_YAML, WA_NUMBER  # noqa: E402

LANGS = ["en", "ar", "fa", "ps", "fr", "uk", "es", "ti", "ru", "tr", "so", "ku"]
CHANNELS = ["whatsapp", "sms", "telegram"]
SUPERVISOR = ("sam@example.org", "sam-password-1")
REFRESH = ["/api/conversations?status=active", "/api/conversations?status=waiting",
           "/api/escalations?status=open", "/api/metrics"]  # what dashboard.js polls every 2 s
ENDPOINTS = REFRESH + ["/api/conversations", "/api/conversations?status=closed&limit=100&offset=200", "/dashboard"]
TEXTS = ["Hello", "How do I apply for asylum?", "Where can I find a free lawyer?", "Thank you",
         "My interview is next week, what should I bring?", "Can my family join me here?"]


def address(i: int) -> tuple[str, str]:
    channel = CHANNELS[i % 3]
    return channel, (str(500_000_000 + i) if channel == "telegram" else f"+4917{i:09d}")


def seed(db, first: int, last: int, rng: random.Random) -> float:  # type: ignore[no-untyped-def]
    """Conversations first..last-1 (with contacts, messages, audit rows, escalations); seconds taken."""
    from sqlalchemy import func, insert, select

    from helpline import crypto
    from helpline.content import TOPICS
    from helpline.models import AuditLog, Contact, Conversation, Escalation, Message, Staff, new_alias, utcnow
    t = time.perf_counter()
    now = utcnow()
    with db.engine.begin() as conn:
        ids = {m: (conn.execute(select(func.max(m.__table__.c.id))).scalar() or 0) + 1
               for m in (Contact, Conversation, Message, AuditLog, Escalation)}
        volunteers = list(conn.execute(select(Staff.id).where(Staff.role == "volunteer")).scalars())
    live = {"waiting": 25, "active": 12, "bot": 30} if first == 0 else {}
    live_kinds = [k for k, n in live.items() for _ in range(n)]
    batch = 5000
    for start in range(first, last, batch):
        contacts, convs, msgs, audits, escs = [], [], [], [], []
        for i in range(start, min(last, start + batch)):
            channel, addr = address(i)
            cid, vid = ids[Contact] + (i - first), ids[Conversation] + (i - first)
            created = now - timedelta(days=365 * (last - i) / max(last, 1), minutes=rng.randint(0, 60))
            kind = live_kinds[i - first] if i - first < len(live_kinds) else ("bot" if rng.random() < 0.6 else "closed")
            if kind in ("waiting", "active", "bot") and i - first < len(live_kinds):
                created = now - timedelta(minutes=rng.randint(1, 30))
            lang = rng.choice(LANGS)
            contacts.append({"id": cid, "address_hash": crypto.address_hash(channel, addr), "channel": channel,
                             "address": addr, "alias": new_alias(), "language": lang, "language_confirmed": True,
                             "accepts_english": False, "region": "DE", "state": {}, "unsubscribed": False,
                             "unreachable": False, "blocked_until": None, "block_reason": None,
                             "block_notified": False, "flagged_abusive": False, "created_at": created,
                             "last_seen_at": created + timedelta(minutes=20)})
            handled = kind in ("closed", "active")
            queued = created + timedelta(minutes=3) if kind != "bot" else None
            assigned = created + timedelta(minutes=8) if handled else None
            convs.append({"id": vid, "contact_id": cid, "channel": channel, "language": lang,
                          "topic": rng.choice(TOPICS), "status": kind, "priority": 1 if rng.random() < 0.05 else 0,
                          "assigned_to": rng.choice(volunteers) if handled else None, "queued_at": queued,
                          "assigned_at": assigned, "opened_at": assigned, "queue_notice": {},
                          "closed_at": created + timedelta(minutes=30) if kind == "closed" else None,
                          "outcome": "resolved" if kind == "closed" else None,
                          "notes": "Referred to legal aid" if kind == "closed" and rng.random() < 0.5 else None,
                          "tags": [], "abandoned": False, "last_message_at": created + timedelta(minutes=20),
                          "created_at": created})
            for j in range(4):
                inbound = j % 2 == 0
                msgs.append({"direction": "in" if inbound else "out", "channel": channel,
                             "provider_id": "SM" + secrets.token_hex(16), "contact_id": cid, "staff_id": None,
                             "conversation_id": vid, "text": rng.choice(TEXTS), "payload": {},
                             "author": "contact" if inbound else ("bot" if j == 1 or not handled else "staff:1"),
                             "status": "processed" if inbound else "delivered", "error_code": None,
                             "attempts": 0 if inbound else 1, "private": False,
                             "created_at": created + timedelta(minutes=5 * j), "processed_at": None,
                             "sent_at": None, "delivered_at": None})
            if kind == "closed":
                for action in ("conversation.assign", "conversation.close"):
                    audits.append({"at": created, "actor": "system", "action": action,
                                   "target_type": "conversation", "target_id": vid, "detail": {}})
            if i % 50 == 25:
                escs.append({"code": secrets.token_hex(6).upper(), "conversation_id": vid, "contact_id": cid,
                             "category": "suicide_self_harm", "level": "high", "status": "resolved",
                             "rota_index": 0, "raised_count": 1, "next_page_at": None, "last_paged_at": created,
                             "acknowledged_by": None, "acknowledged_at": created, "resolved_at": created,
                             "outcome": "resolved", "notes": None, "created_at": created})
        with db.engine.begin() as conn:
            conn.execute(insert(Contact.__table__), contacts)
            conn.execute(insert(Conversation.__table__), convs)
            conn.execute(insert(Message.__table__), msgs)
            if audits:
                conn.execute(insert(AuditLog.__table__), audits)
            if escs:
                conn.execute(insert(Escalation.__table__), escs)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:  # explicit ids: move the sequences past them
            for table in ("contact", "conversation", "message", "audit_log", "escalation"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t


def webhook_posts(web: subprocess.Popen, port: int, public: str, size: int, n: int, rng: random.Random) -> dict:
    """Half from stored contacts (SMS and WhatsApp ones), half from new numbers; 50/s open loop."""
    requests = []
    for k in range(n):
        if k % 2:
            i = rng.randrange(size)
            while CHANNELS[i % 3] == "telegram":
                i = rng.randrange(size)
            channel, number = address(i)
        else:
            channel, number = rng.choice(["whatsapp", "sms"]), f"+4918{size:07d}{k:04d}"
        wa = channel == "whatsapp"
        params = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": TWILIO_SID,
                  "From": f"whatsapp:{number}" if wa else number, "To": f"whatsapp:{WA_NUMBER}" if wa else SMS_NUMBER,
                  "Body": rng.choice(TEXTS), "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
                  "ApiVersion": "2010-04-01"}
        body, sig = signed_form(public + "/webhooks/twilio", params, TWILIO_TOKEN)
        requests.append(("POST", "/webhooks/twilio", body, {"Content-Type": "application/x-www-form-urlencoded",
                                                              "X-Twilio-Signature": sig}))
    cpu = web_cpu(web)
    lat, other = open_loop(Client(port), requests, 50.0)
    return {**percentiles(lat), "errors": sum(other.values()), "statuses": other,
            "cpu_ms": (web_cpu(web) - cpu) / n * 1000}


def web_cpu(web: subprocess.Popen) -> float:
    """CPU seconds used so far by gunicorn and its workers: less disturbed by a busy machine than latency."""
    return sum(cpu_seconds(pid) for pid in descendants(web.pid))


def login(client: Client) -> None:
    status, body, _ = client.request("POST", "/api/login", json.dumps(
        {"email": SUPERVISOR[0], "password": SUPERVISOR[1]}).encode(), {"Content-Type": "application/json"})
    if status != 200:
        raise RuntimeError(f"supervisor login failed: {status} {body[:200]!r}")


def dashboard(web: subprocess.Popen, port: int, n: int, budget: float) -> dict[str, dict]:
    """n sequential requests per endpoint, fewer when they take longer than `budget` seconds in all."""
    client = Client(port)
    login(client)
    out: dict[str, dict] = {}
    for path in ENDPOINTS:
        client.request("GET", path)  # warm
        times, errors, stop_at = [], 0, time.monotonic() + budget
        cpu = web_cpu(web)
        while len(times) < n and time.monotonic() < stop_at:
            status, _, seconds = client.request("GET", path, headers={"Accept": "application/json"})
            errors += status != 200
            times.append(seconds * 1000)
        out[path] = {**percentiles(times), "errors": errors, "cpu_ms": (web_cpu(web) - cpu) / len(times) * 1000}
    refresh, stop_at = [], time.monotonic() + budget
    with ThreadPoolExecutor(4) as pool:
        while len(refresh) < n and time.monotonic() < stop_at:
            t = time.perf_counter()
            list(pool.map(lambda p: client.request("GET", p), REFRESH))
            refresh.append((time.perf_counter() - t) * 1000)
    out["refresh (the 4 polled calls in parallel)"] = {**percentiles(refresh), "errors": 0, "cpu_ms": float("nan")}
    return out


def explain(env: dict) -> None:
    """The SQL the list handlers run, captured in this process, with the database's plan for each."""
    from sqlalchemy import event

    from helpline import create_app
    from helpline.config import Config
    app = create_app(Config.from_env(env))
    rt = app.extensions["helpline"]
    captured: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM staff" not in statement:
            captured.append((statement, parameters))

    client = app.test_client()
    client.post("/api/login", json={"email": SUPERVISOR[0], "password": SUPERVISOR[1]})
    event.listen(rt.db.engine, "before_cursor_execute", grab)
    pg = rt.db.engine.dialect.name == "postgresql"
    for path in ["/api/conversations", "/api/conversations?status=waiting", "/api/conversations?status=active",
                 "/api/escalations?status=open", "/api/metrics"]:
        captured.clear()
        client.get(path)
        print(f"\n  {path}")
        for statement, params in list(captured):
            print("    " + " ".join(statement.split())[:400])
            with rt.db.engine.connect() as conn:
                prefix = "EXPLAIN (ANALYZE, BUFFERS OFF) " if pg else "EXPLAIN QUERY PLAN "
                rows = conn.exec_driver_sql(prefix + statement, params).all()
            for row in rows:
                print("      -> " + (row[0] if pg else str(row[-1])))
    event.remove(rt.db.engine, "before_cursor_execute", grab)
    rt.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--posts", type=int, default=300)
    ap.add_argument("--requests", type=int, default=150, help="per endpoint and size")
    ap.add_argument("--budget", type=float, default=8.0, help="seconds per endpoint and size at most")
    ap.add_argument("--postgres", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rng = random.Random(11)
    data = tempfile.mkdtemp(prefix="bench-history-")
    redis_proc, redis_url, redis_dir = start_redis()
    pg = web = None
    port = free_port()
    from helpline.crypto import new_key
    env = dict(os.environ, HELPLINE_DATA_DIR=data, REDIS_URL=redis_url, SECRET_KEY="bench-history",
               HELPLINE_ENCRYPTION_KEY=new_key(), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
               TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_SMS_NUMBER=SMS_NUMBER,
               TWILIO_WHATSAPP_NUMBER=WA_NUMBER, HELPLINE_LOG_LEVEL="WARNING")
    try:
        if args.postgres:
            from tests.conftest import PostgresServer  # the test suite's throwaway cluster
            pg = PostgresServer().start()
            env["DATABASE_URL"] = pg.create_database("bench_history")
        else:
            env["DATABASE_URL"] = f"sqlite:///{data}/helpline.db"
        from helpline import crypto, migrate
        from helpline.config import Config
        from helpline.db import Database
        from helpline.staff import do_import_staff, parse_staff_file
        crypto.configure(Config.from_env(env))
        migrate.upgrade(env["DATABASE_URL"])
        db = Database(env["DATABASE_URL"])
        with db.session() as s:
            do_import_staff(s, parse_staff_file(STAFF_YAML))
        web = gunicorn("helpline.wsgi:app", port, env)
        wait_http(port)
        load_before = os.getloadavg()
        rows = []
        seeded = 0
        for size in sizes:
            took = seed(db, seeded, size, rng)
            seeded = size
            hook = webhook_posts(web, port, env["PUBLIC_BASE_URL"], size, args.posts, rng)
            rows.append((size, took, hook, dashboard(web, port, args.requests, args.budget)))
            print(f"seeded {size} conversations (+{took:.0f} s); webhook p50 {hook['p50']:.1f} ms", flush=True)
        db.dispose()
        report(rows, "PostgreSQL" if pg else "SQLite (WAL)", args.requests)
        print("\nquery plans at the largest size:")
        explain(env)
        print(f"\nmachine load average (1 min) {load_before[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
              f"{os.cpu_count()} cores")
    finally:
        if web is not None:
            stop(web)
        redis_proc.terminate()
        redis_proc.wait(10)
        if pg is not None:
            pg.stop()
        shutil.rmtree(redis_dir, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    return 0


def report(rows: list, db: str, rows_n: int) -> None:
    sizes = [r[0] for r in rows]
    print(f"\nhistory benchmark: {db}, gunicorn 2 gthread x 8 (the Procfile's web command); per size: "
          "latency p50 / p99 ms, and the web processes' CPU ms per request; at " + ", ".join(f"{s:,}" for s in sizes)
          + " stored conversations")

    def line(label: str, cells: list[dict]) -> None:
        growth = cells[-1]["p50"] / cells[0]["p50"]
        cpu_growth = cells[-1]["cpu_ms"] / cells[0]["cpu_ms"] if cells[0]["cpu_ms"] else float("nan")
        few = min(c["n"] for c in cells)
        errors = sum(c["errors"] for c in cells)
        print(f"  {label:60s} " + "  ".join(f"{c['p50']:6.1f} / {c['p99']:6.1f} ({c['cpu_ms']:5.1f})" for c in cells)
              + f"   x{growth:.2f} p50, x{cpu_growth:.2f} CPU" + (f"  errors {errors}" if errors else "")
              + (f"  (n={', '.join(str(c['n']) for c in cells)})" if few < rows_n else ""))

    line("POST /webhooks/twilio (50/s)", [r[2] for r in rows])
    for r in rows:
        if r[2]["statuses"]:
            print(f"    webhook answers other than 200 at {r[0]:,}: {r[2]['statuses']}")
    for path in rows[0][3]:
        line(f"GET {path}" if path.startswith("/") else path, [r[3][path] for r in rows])


if __name__ == "__main__":
    sys.exit(main())
