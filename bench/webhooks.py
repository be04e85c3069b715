"""Webhook answers per second and latency, the helpline against a bare Flask handler in the same run,
both under the Procfile's `web` command (gunicorn, 2 gthread workers).

    python bench/webhooks.py [--seconds 8] [--rate 100] [--rounds 4] [--per-contact 1]

The helpline's answer comes after the message is durably stored (SQLite in WAL mode, or PostgreSQL
with DATABASE_URL) and its processing job enqueued in Redis.

Throughput alternates between the two servers in `rounds` rounds of seconds/rounds each (bare, helpline,
bare, ...), so a neighbour's burst on a shared machine falls on both rather than on one. `--per-contact
1` (the default, the worst case) sends every message from a new number: a new contact is stored with
each message. `--per-contact 3` sends three messages from each number, as contacts write.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (ROOT, SID, TOKEN, cpu_seconds, descendants, fixed_rate, free_port, gunicorn,  # noqa: E402
                          signed_body, start_redis, stop, throughput, wait_http)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-contact", type=int, default=1, help="messages from each number")
    args = ap.parse_args()
    redis_proc, redis_url, _ = start_redis()
    data = tempfile.mkdtemp(prefix="bench-helpline-")
    port_h, port_b = free_port(), free_port()
    env = dict(os.environ, HELPLINE_DATA_DIR=data, REDIS_URL=redis_url, SECRET_KEY="bench",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port_h}", TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN,
               TWILIO_SMS_NUMBER="+14155550100", PYTHONPATH=str(ROOT), HELPLINE_LOG_LEVEL="WARNING")
    from helpline import migrate
    from helpline.config import default_database_url
    from pathlib import Path
    db_url = env.get("DATABASE_URL") or default_database_url(Path(data))
    env["DATABASE_URL"] = db_url
    if not db_url.startswith("sqlite"):
        from helpline.crypto import new_key
        env.setdefault("HELPLINE_ENCRYPTION_KEY", new_key())
    migrate.upgrade(db_url)
    helpline = gunicorn("helpline.wsgi:app", port_h, env)
    bare = gunicorn("bench.bare:app", port_b, env)
    results = {}
    try:
        wait_http(port_h)
        wait_http(port_b, "/")
        url = f"http://127.0.0.1:{port_h}/webhooks/twilio"
        n = int(args.seconds * 2000)
        k = max(1, args.per_contact)
        servers = {"bare": (port_b, bare), "helpline": (port_h, helpline)}
        # one list for both: each server has its own database, so the same numbers are new to each
        bodies = [signed_body(url, f"+49151{i // k:08d}", "Hello, how do I apply for asylum?") for i in range(n)]
        totals = {name: {"ok": 0, "errors": 0, "seconds": 0.0, "cpu": 0.0} for name in servers}
        for name, (port, _) in servers.items():
            throughput(port, bodies[:200], seconds=1.0)  # warm up
        for _ in range(args.rounds):
            for name, (port, server) in servers.items():
                # CPU of the server's processes (and Redis) per answer: steadier than answers/s when shared
                pids = descendants(server.pid) + ([redis_proc.pid] if name == "helpline" else [])
                cpu_before = sum(cpu_seconds(p) for p in pids)
                done = totals[name]["ok"] + totals[name]["errors"] + 200
                t = throughput(port, bodies[done:], seconds=args.seconds / args.rounds)
                totals[name]["cpu"] += sum(cpu_seconds(p) for p in pids) - cpu_before
                for key in ("ok", "errors"):
                    totals[name][key] += t[key]
                totals[name]["seconds"] += t["ok"] / max(t["per_second"], 1e-9)
        rate_bodies = [signed_body(url, f"+49152{i // k:08d}", "Where can I find a lawyer?")
                       for i in range(int(args.rate * args.seconds))]
        for name, (port, _) in servers.items():
            tot = totals[name]
            t = {"per_second": tot["ok"] / max(tot["seconds"], 1e-9), "ok": tot["ok"], "errors": tot["errors"],
                 "cpu_ms": tot["cpu"] * 1000 / max(1, tot["ok"])}
            lat = fixed_rate(port, rate_bodies, args.rate, args.seconds)
            results[name] = (t, lat)
        db = "SQLite (WAL)" if db_url.startswith("sqlite") else "PostgreSQL"
        print(f"webhook benchmark: gunicorn 2 gthread workers x 8 threads, {db}, Redis, 8 keep-alive clients, "
              f"{args.rounds} alternating rounds, {k} message(s) from each number")
        for name, (t, lat) in results.items():
            print(f"  {name:9s} {t['per_second']:7.0f} answers/s ({t['errors']} errors), {t['cpu_ms']:.2f} ms CPU "
                  f"each; at {args.rate:.0f}/s: "
                  f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms ({lat['errors']} errors{': ' + str(lat['kinds']) if lat['kinds'] else ''})")
        ratio = results["helpline"][0]["per_second"] / results["bare"][0]["per_second"]
        print(f"  ratio helpline / bare Flask: {ratio:.2f}; load average {os.getloadavg()[0]:.1f}")
    finally:
        stop(helpline)
        stop(bare)
        redis_proc.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
