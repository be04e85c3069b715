"""Locks across workers: Redis when there is one, a process lock otherwise (the console)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from redis.exceptions import LockError, RedisError

from helpline.runtime import Runtime

# Renewed while the holder works, so this expiry only frees the lock of a holder that died (a SIGKILLed
# worker): everything waiting for that contact or recipient waits this long, not two minutes.
HELD_LOCK_SECONDS = 20
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
    # not thread-local: the keeper thread renews it with the holder's token
    lock = rt.redis.lock(f"helpline:lock:{name}", timeout=timeout, blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise LockTimeout(name)
    done = threading.Event()
    keeper = threading.Thread(target=_keep, args=(lock, done, timeout / 3), daemon=True, name=f"lock:{name}")
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()
        try:
            lock.release()
        except Exception:  # lost while we worked (Redis away): the next holder is already in; nothing to undo
            pass


def _keep(lock, done: threading.Event, every: float) -> None:  # type: ignore[no-untyped-def]
    """Renews the lock while its holder works, so a slow job or round never loses it by expiry;
    the expiry is left for a holder that died."""
    while not done.wait(every):
        try:
            lock.reacquire()
        except LockError:  # taken over after a Redis outage: nothing left to renew
            return
        except RedisError:  # Redis away for a moment: try again at the next beat
            continue


def contact_lock(rt: Runtime, contact_id: int) -> "contextmanager[None]":  # type: ignore[type-arg]
    return named_lock(rt, f"contact:{contact_id}", timeout=HELD_LOCK_SECONDS)
