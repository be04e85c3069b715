"""What one process holds: config, database, Redis, queues and loaded content.

Built once per process (web, worker, scheduler) and reached through
`current_runtime()`; expensive parts (content, models) load on first use and
are then kept, so jobs never pay start-up costs.
"""
from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
from flask import current_app, has_app_context

from helpline.config import Config
from helpline.db import Database

if TYPE_CHECKING:
    from flows.engine import Engine
    from helpline.announcer import Announcer
    from helpline.inbound_store import InboundStore
    from helpline.senders import Senders
    from helpline.content import Content
    from helpline.crisis import Screener
    from helpline.faq import FaqIndex

QUEUES = ("crisis", "high", "default", "low")
_process_runtime: "Runtime | None" = None


class Runtime:
    def __init__(self, config: Config, db: Database, *, web: bool = False) -> None:
        self.config, self.db, self.web = config, db, web
        self._lock = threading.Lock()

    @cached_property
    def redis(self) -> redis.Redis:
        """Short timeouts in the web process, so a Redis outage cannot hold a webhook."""
        timeout = 1.0 if self.web else 10.0
        return redis.Redis.from_url(self.config.redis_url, socket_timeout=timeout,
                                    socket_connect_timeout=timeout, health_check_interval=30)

    @cached_property
    def announcer(self) -> "Announcer":
        """Pushes "message stored" notices to Redis from a background thread (the webhooks')."""
        from helpline.announcer import Announcer
        return Announcer(self.redis)

    @cached_property
    def inbound(self) -> "InboundStore":
        """Stores inbound messages on raw DB-API connections of its own autocommit pool (the webhooks')."""
        from helpline.inbound_store import InboundStore
        return InboundStore(self.config.database_url)

    def flush_announcements(self) -> None:
        """Every notice this process gave its announcer is in Redis (or given up) when this returns."""
        if "announcer" in self.__dict__:
            self.announcer.flush()

    def queue(self, name: str) -> Any:
        from rq import Queue
        return Queue(name, connection=self.redis)

    @cached_property
    def content(self) -> "Content":
        from helpline.content import load_content
        return load_content()

    @cached_property
    def faq(self) -> "FaqIndex":
        from helpline.faq import shared_index
        return shared_index(self.content)

    @cached_property
    def screener(self) -> "Screener":
        from helpline.crisis import shared_screener
        return shared_screener(self.content)

    @cached_property
    def engine(self) -> "Engine":
        from flows.definitions import load_flows
        from flows.engine import Engine
        flows = load_flows(message_keys=set(self.content.messages.get("en", {})))
        return Engine(flows, self.content, self.faq.match)

    @cached_property
    def senders(self) -> "Senders":
        from helpline.senders import Senders
        return Senders(self.config)

    def close(self) -> None:
        self.flush_announcements()
        self.db.dispose()
        if "inbound" in self.__dict__:
            self.inbound.close()
        if "redis" in self.__dict__:
            self.redis.close()


def set_process_runtime(rt: Runtime) -> None:
    global _process_runtime
    _process_runtime = rt


def current_runtime() -> Runtime:
    if has_app_context():
        return current_app.extensions["helpline"]
    if _process_runtime is None:
        raise RuntimeError("no helpline runtime in this process")
    return _process_runtime
