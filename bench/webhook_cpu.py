"""CPU per Twilio webhook in one process: the app's own cost, without gunicorn or a load generator
sharing the cores (steadier than answers/s on a shared machine).

    python bench/webhook_cpu.py [--requests 4000] [--threads 8] [--profile]

Signed webhooks, each from a new number as in bench/webhooks.py, go through the WSGI app from
`threads` threads (gunicorn's gthread worker runs 8), with SQLite (WAL) and a throwaway Redis.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import SID, TOKEN, signed_body, start_redis  # noqa: E402

BASE = "http://helpline.bench"


def environ(body: bytes, signature: str) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks/twilio", "QUERY_STRING": "",
            "SERVER_NAME": "helpline.bench", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "HTTP_HOST": "helpline.bench", "HTTP_X_TWILIO_SIGNATURE": signature}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the measured requests (in one thread), top 40 by own time")
    args = ap.parse_args()
    redis_proc, redis_url, _ = start_redis()
    data = tempfile.mkdtemp(prefix="bench-webhook-cpu-")
    from helpline.config import default_database_url
    os.environ.update(HELPLINE_DATA_DIR=data, REDIS_URL=redis_url, SECRET_KEY="bench", PUBLIC_BASE_URL=BASE,
                      TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_SMS_NUMBER="+14155550100",
                      HELPLINE_LOG_LEVEL="WARNING", DATABASE_URL=default_database_url(Path(data)))
    from helpline import create_app, migrate
    migrate.upgrade(os.environ["DATABASE_URL"])
    app = create_app()
    rt = app.extensions["helpline"]
    warm = 200
    bodies = [signed_body(f"{BASE}/webhooks/twilio", f"+49151{i:08d}", "Hello, how do I apply for asylum?")
              for i in range(warm + args.requests)]
    statuses: list[str] = []

    def call(body: bytes, signature: str) -> None:
        status: list[str] = []
        for _ in app.wsgi_app(environ(body, signature), lambda s, h, e=None: status.append(s)):
            pass
        statuses.append(status[0])

    for body in bodies[:warm]:
        call(*body)
    todo = iter(bodies[warm:])
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                body = next(todo, None)
            if body is None:
                return
            call(*body)

    profile = cProfile.Profile() if args.profile else None
    threads = [threading.Thread(target=loop) for _ in range(args.threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:  # cProfile sees the calling thread only: the requests run in this one
        profile.enable()
        loop()
        profile.disable()
    else:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    flush = getattr(rt, "flush_announcements", None)
    if flush:
        flush()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    bad = sum(not s.startswith("200") for s in statuses)
    print(f"webhook in-process: {args.requests} requests, {1 if profile else args.threads} thread(s): "
          f"{cpu / args.requests * 1000:.3f} ms CPU, {wall / args.requests * 1000:.3f} ms wall each "
          f"({bad} not 200); load average {os.getloadavg()[0]:.1f}")
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(40)
        print(out.getvalue())
    rt.close()
    redis_proc.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
