"""`helpline worker`: RQ workers that pay start-up costs once, not per job.

A non-forking worker (rq's SimpleWorker) runs jobs in this process, where
the app, the provider clients, the content, the FAQ index and the screening
models were loaded before the first job.
"""
from __future__ import annotations

import logging
import time

from helpline.config import Config
from helpline.runtime import QUEUES

log = logging.getLogger(__name__)


def build_worker_runtime(config: Config):  # type: ignore[no-untyped-def]
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
    rt.screener.screen("warm up")
    return time.perf_counter() - t


def run_worker(config: Config, queues: list[str], burst: bool = False) -> int:
    from rq import Queue, SimpleWorker
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        print(f"unknown queue(s): {', '.join(unknown)}; the queues are {', '.join(QUEUES)}")
        return 2
    app, rt = build_worker_runtime(config)
    with app.app_context():
        seconds = preload(rt)
        log.info("worker for %s ready in %.2f s", ",".join(queues), seconds)
        worker = SimpleWorker([Queue(q, connection=rt.redis) for q in queues], connection=rt.redis)
        dispatcher = None
        if not burst and queues == ["crisis"]:  # an idle process: the quickest to route a crisis
            from workers.dispatch import start_dispatcher
            dispatcher = start_dispatcher(app, rt)
        elif burst:
            from workers.dispatch import dispatch_pending
            dispatch_pending(rt)
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
        finally:
            if dispatcher is not None:
                dispatcher.stop.set()
    return 0
