"""Where a worker's CPU goes for one inbound message: realistic messages from tests/data (a greeting and
two questions per contact, 12 languages) stored as the webhook stores them, dispatched, then processed
and sent by one non-forking worker in this process, under cProfile.

    python bench/worker_profile.py [--contacts 100] [--top 40] [--no-profile] [--postgres]
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, worker_bench_env  # noqa: E402


def scripts(n: int, rng: random.Random) -> list[list[str]]:
    def rows(name: str) -> list[dict]:
        with open(ROOT / "tests" / "data" / name, encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    greetings = [r["text"] for r in rows("lang_eval.tsv") if len(r["text"].split()) <= 3]
    questions = [r["text"] for r in rows("faq_eval.tsv")]
    return [[rng.choice(greetings), rng.choice(questions), rng.choice(questions)] for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=100)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--no-profile", action="store_true", help="CPU time only")
    ap.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    args = ap.parse_args()
    pg = None
    if args.postgres:
        from tests.conftest import PostgresServer  # the test suite's throwaway cluster
        pg = PostgresServer().start()
    fakes, redis_proc, config = worker_bench_env("bench-profile-",
                                                 pg.create_database("bench_profile") if pg else None)
    from rq import Queue, SimpleWorker

    from helpline.inbound import INBOUND_LIST, InboundMessage
    from workers.dispatch import dispatch_pending
    from workers.run import build_worker_runtime, preload
    app, rt = build_worker_runtime(config)
    rng = random.Random(7)
    try:
        with app.app_context():
            preload(rt)
            rounds = scripts(args.contacts, rng)
            total = 0
            for step in range(3):
                ids = [rt.inbound.store(InboundMessage("sms", f"+4915510{i:05d}", texts[step], f"SM{step}-{i}"),
                                        "DE") for i, texts in enumerate(rounds)]
                rt.redis.rpush(INBOUND_LIST, *[f"{m}:{c}" for m, c in ids])
                total += len(ids)
                profiler = None if args.no_profile else cProfile.Profile()
                cpu = time.process_time()
                if profiler:
                    profiler.enable()
                dispatch_pending(rt)
                queues = [Queue(q, connection=rt.redis) for q in ("crisis", "high", "default", "low")]
                SimpleWorker(queues, connection=rt.redis).work(burst=True, logging_level="ERROR")
                if profiler:
                    profiler.disable()
                cpu = time.process_time() - cpu
                print(f"message {step + 1} of each contact: {cpu / len(ids) * 1000:.1f} ms CPU a message "
                      f"(dispatch, processing, sending)")
                if profiler and step == 2:
                    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    finally:
        rt.close()
        redis_proc.terminate()
        redis_proc.wait(10)
        fakes.stop()
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
