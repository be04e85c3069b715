"""Notices of stored messages reach Redis from a background thread: each once, none held back."""
from __future__ import annotations

import threading

import redis

from helpline.announcer import Announcer
from helpline.inbound import INBOUND_LIST


def test_notices_from_many_threads_arrive_each_once(redis_client):
    announcer = Announcer(redis_client)

    def post(base: int) -> None:
        for i in range(200):
            announcer.announce(base + i, base)

    threads = [threading.Thread(target=post, args=(k * 1000,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert announcer.flush(10)
    got = [x.decode() for x in redis_client.lrange(INBOUND_LIST, 0, -1)]
    assert sorted(got) == sorted(f"{k * 1000 + i}:{k * 1000}" for k in range(8) for i in range(200))


def test_redis_away_drops_the_notices_and_the_announcer_goes_on(redis_client, redis_server):
    """The messages are stored; the scheduler enqueues what was never announced (tests/test_scheduler.py)."""
    announcer = Announcer(redis.Redis.from_url(redis_server.url, socket_timeout=1, socket_connect_timeout=1))
    redis_server.stop()
    try:
        announcer.announce(1, 1)
        assert announcer.flush(10)
    finally:
        redis_server.start()
    announcer.announce(2, 2)
    assert announcer.flush(10)
    assert redis_client.lrange(INBOUND_LIST, 0, -1) == [b"2:2"]
