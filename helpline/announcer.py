"""Telling the dispatchers a message is stored, from one background thread per process.

A webhook thread only appends the notice to a list in memory; the thread pushes everything that
arrived meanwhile with one RPUSH, so the webhook pays neither the Redis round trip nor its system
calls (a third of its CPU before). A notice that never reaches Redis (the process killed first,
Redis down) costs time only: the message is stored, and the scheduler enqueues messages still
`received` after a few seconds.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from helpline.inbound import INBOUND_LIST

log = logging.getLogger(__name__)
EXIT_FLUSH_SECONDS = 2.0
# after a push the thread gathers for this long before it waits again: a notice arriving meanwhile
# does not wake it (waking a waiting thread was a tenth of a web worker's time under load), and is
# pushed at most this much later; the first notice after a pause is pushed at once
GATHER_SECONDS = 0.003


class Announcer:
    def __init__(self, redis_client) -> None:  # type: ignore[no-untyped-def]
        self._redis = redis_client
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a notice to push
        self._idle = threading.Condition(self._lock)     # nothing waiting, nothing in flight
        self._pending: list[str] = []
        self._in_flight = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def announce(self, message_id: int, contact_id: int) -> None:
        """Queues the notice "message_id:contact_id"; returns at once."""
        with self._lock:
            self._pending.append(f"{message_id}:{contact_id}")
            if self._pid != os.getpid():  # first use, or a forked child: threads do not survive a fork
                self._start()
            self._arrived.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Waits until every notice given so far was pushed (or given up); False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending and not self._in_flight, timeout)

    def _start(self) -> None:
        if self._pid == 0:
            atexit.register(self.flush, EXIT_FLUSH_SECONDS)
        self._pid, self._in_flight = os.getpid(), False
        self._thread = threading.Thread(target=self._run, name="helpline-announcer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._arrived.wait_for(lambda: self._pending)
                batch, self._pending, self._in_flight = self._pending, [], True
            try:
                self._redis.rpush(INBOUND_LIST, *batch)
            except Exception as e:  # the messages are stored: the scheduler enqueues them
                log.warning("%d stored message(s) not announced, the scheduler will enqueue them: %s",
                            len(batch), type(e).__name__)
            with self._lock:
                self._in_flight = False
                if not self._pending:
                    self._idle.notify_all()
            time.sleep(GATHER_SECONDS)
