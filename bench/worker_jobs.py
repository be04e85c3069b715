"""Cost per send job: rq's forking Worker against the non-forking SimpleWorker the helpline uses,
on the same 200 queued rows and the same fake Twilio server.

    python bench/worker_jobs.py [--jobs 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import worker_bench_env  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    args = ap.parse_args()
    fakes, redis_proc, config = worker_bench_env("bench-jobs-")
    from rq import Queue, SimpleWorker, Worker

    from helpline import crypto
    from helpline.models import Contact
    from helpline.outbox import queue_text
    from workers.run import build_worker_runtime, preload
    app, rt = build_worker_runtime(config)
    results = {}
    try:
        with app.app_context():
            print(f"worker start-up (content, flows, FAQ index, screener, provider clients): {preload(rt):.2f} s")
            for name, cls in (("forking Worker", Worker), ("SimpleWorker", SimpleWorker)):
                with rt.db.session() as s:
                    for i in range(args.jobs):
                        number = f"+49155{len(results)}{i:07d}"
                        c = Contact(address_hash=crypto.address_hash("sms", number), channel="sms", address=number,
                                    language="en", region="DE")
                        s.add(c)
                        s.flush()
                        queue_text(s, c, "hello")
                rt.redis.delete("rq:queue:crisis")
                q = Queue("default", connection=rt.redis)
                t = time.perf_counter()
                cls([q], connection=rt.redis).work(burst=True, logging_level="ERROR")
                results[name] = (time.perf_counter() - t) / args.jobs * 1000
        for name, ms in results.items():
            print(f"  {name:15s} {ms:6.1f} ms per send job")
    finally:
        redis_proc.terminate()
        fakes.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
