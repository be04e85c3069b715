"""A worker process's background loops (the dispatcher, the screening stage): one thread each."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from helpline.prescreen import shared_prescreen

log = logging.getLogger(__name__)


def start_loop(app, rt, name: str, step: Callable[[], object]) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Runs `step` until the thread's `stop` event is set. The pre-screen is learnt before the first step
    (about 4 s), not while a message waits; a failing step (Redis or the database away) is logged by its
    kind only and retried after a second: what is stored is picked up by the scheduler meanwhile."""
    stop = threading.Event()

    def loop() -> None:
        with app.app_context():
            shared_prescreen(rt.content)
            while not stop.is_set():
                try:
                    step()
                except Exception as e:
                    log.warning("%s: %s", name, type(e).__name__)
                    stop.wait(1.0)

    t = threading.Thread(target=loop, name=f"helpline-{name}", daemon=True)
    t.stop = stop  # type: ignore[attr-defined]
    t.start()
    return t
