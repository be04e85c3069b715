"""Locks across workers: Redis when there is one, a process lock otherwise (the console)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from helpline.runtime import Runtime

_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


class LockTimeout(RuntimeError):
    """Another worker held the lock too long; the job raises so RQ retries it."""


@contextmanager
def named_lock(rt: Runtime, name: str, timeout: int = 120, wait: float = 60) -> Iterator[None]:
    if not rt.config.redis_url:
        with _guard:
            lock = _local_locks.setdefault(name, threading.Lock())
        with lock:
            yield
        return
    lock = rt.redis.lock(f"helpline:lock:{name}", timeout=timeout, blocking_timeout=wait)
    if not lock.acquire():
        raise LockTimeout(name)
    try:
        yield
    finally:
        try:
            lock.release()
        except Exception:  # expired while we worked: the next holder is already in; nothing to undo
            pass


def contact_lock(rt: Runtime, contact_id: int) -> "contextmanager[None]":  # type: ignore[type-arg]
    return named_lock(rt, f"contact:{contact_id}")
