"""`helpline worker`: RQ workers that pay start-up costs once, not per job.

A non-forking worker (rq's SimpleWorker) runs jobs in this process, where
the app, the provider clients, the content, the FAQ index and the screening
models were loaded before the first job.
"""
from __future__ import annotations

import logging
import os
import sys
import time

from helpline.config import Config
from helpline.runtime import QUEUES

log = logging.getLogger(__name__)
REDIS_RETRY_SECONDS = 1.0
WORKER_NICE = 0  # off: at 5 and 10 the crisis pages were not faster (docs/PERFORMANCE.md, "Overload")


def limit_blas_threads() -> None:
    """numpy's OpenBLAS runs a matrix-vector product (the crisis bank, the FAQ index: ~5,500 x 384) on every
    core, and its threads spin while they wait for each other: on 2 shared cores that cost 40-50 ms of CPU a
    message (`bench/worker_profile.py`), more than the e5 embedding. One thread is as fast for products this
    small. Only works before numpy is imported, hence here, before the app is built; an operator's setting
    is kept."""
    if "numpy" in sys.modules:
        log.warning("numpy was imported before the worker set OPENBLAS_NUM_THREADS; BLAS may spin")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def build_worker_runtime(config: Config):  # type: ignore[no-untyped-def]
    limit_blas_threads()
    from helpline import create_app
    from helpline.runtime import set_process_runtime
    app = create_app(config)
    rt = app.extensions["helpline"]
    rt.web = False
    set_process_runtime(rt)
    return app, rt


def preload(rt) -> float:  # type: ignore[no-untyped-def]
    """Loads everything a job needs; returns the seconds it took."""
    t = time.perf_counter()
    rt.content
    rt.engine
    rt.senders.preload()
    rt.faq.vectors
    rt.screener.screen("warming up the screening model")  # three words or more: loads the semantic heads too
    return time.perf_counter() - t


def run_worker(config: Config, queues: list[str], burst: bool = False) -> int:
    from rq.exceptions import StopRequested
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        print(f"unknown queue(s): {', '.join(unknown)}; the queues are {', '.join(QUEUES)}")
        return 2
    app, rt = build_worker_runtime(config)
    with app.app_context():
        seconds = preload(rt)
        log.info("worker for %s ready in %.2f s", ",".join(queues), seconds)
        dispatcher = screening = None
        if not burst and queues == ["crisis"]:  # an idle process: the quickest to route and screen a crisis
            from workers.dispatch import start_dispatcher
            from workers.screening import start_screening
            dispatcher = start_dispatcher(app, rt)
            screening = start_screening(app, rt)
        elif not burst:
            _lower_priority()
        if burst:
            from workers.dispatch import dispatch_pending
            dispatch_pending(rt)
        try:
            while not _work(rt, queues, burst):
                log.warning("the worker loop ended unasked (Redis away?); starting it again")
                time.sleep(REDIS_RETRY_SECONDS)
        except StopRequested:  # a signal between two runs
            pass
        finally:
            for thread in (dispatcher, screening):
                if thread is not None:
                    thread.stop.set()
    return 0


def _lower_priority() -> None:
    """HELPLINE_WORKER_NICE (default 0, off) is added to the niceness of a worker that serves the ordinary
    queues, so that it yields the CPU to the web, the scheduler and the crisis-only workers under overload.
    Measured, it did not make crisis pages faster: a niced worker holding SQLite's write lock delays the
    crisis job's commit, and on a shared machine it also yields to everyone else."""
    step = int(os.environ.get("HELPLINE_WORKER_NICE", str(WORKER_NICE)))
    if step > 0:
        try:
            os.nice(step)
        except OSError as e:
            log.warning("worker priority unchanged: %s", e)


def _work(rt, queues: list[str], burst: bool) -> bool:  # type: ignore[no-untyped-def]
    """One run of RQ's loop; False when it quit because Redis failed rather than because it was asked to.

    RQ retries a lost connection while it waits for a job, but quits on one that fails while it finishes
    a job; the stored rows are safe (the scheduler re-enqueues them), so the worker should not die of it."""
    import redis
    from rq import Queue, SimpleWorker
    worker = None
    try:
        worker = SimpleWorker([Queue(q, connection=rt.redis) for q in queues], connection=rt.redis)
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    except (redis.ConnectionError, redis.TimeoutError) as e:
        log.warning("worker lost Redis: %s", type(e).__name__)
    return burst or (worker is not None and worker._shutdown_requested_date is not None)
