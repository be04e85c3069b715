"""Fixed-window counters in Redis; when Redis is away the limit is not enforced (fail open)."""
from __future__ import annotations

import logging
import time

from helpline.runtime import current_runtime

log = logging.getLogger(__name__)


def too_many(key: str, limit: int, window_seconds: int) -> bool:
    rt = current_runtime()
    bucket = f"helpline:rl:{key}:{int(time.time() // window_seconds)}"
    try:
        pipe = rt.redis.pipeline()
        pipe.incr(bucket)
        pipe.expire(bucket, window_seconds + 1)
        count = pipe.execute()[0]
    except Exception as e:
        log.warning("rate limiter unavailable: %s", type(e).__name__)
        return False
    return int(count) > limit


def count(key: str, window_seconds: int) -> int:
    rt = current_runtime()
    try:
        return int(rt.redis.get(f"helpline:rl:{key}:{int(time.time() // window_seconds)}") or 0)
    except Exception:
        return 0


def hit(key: str, window_seconds: int) -> None:
    too_many(key, 10**9, window_seconds)


def clear(key: str, window_seconds: int) -> None:
    try:
        current_runtime().redis.delete(f"helpline:rl:{key}:{int(time.time() // window_seconds)}")
    except Exception:
        pass
