"""Engine and session factory, one per process, with explicit timeouts."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


log = logging.getLogger(__name__)


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Runs `hook` once the session's transaction has committed (not on rollback)."""
    session.info.setdefault("after_commit", []).append(hook)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            hooks = s.info.pop("after_commit", [])
            s.close()
        for hook in hooks:  # e.g. enqueueing jobs for rows that now exist
            try:
                hook()
            except Exception as e:  # the scheduler picks up whatever could not be enqueued
                log.warning("after-commit hook failed: %s", type(e).__name__)

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str, autocommit: bool = False) -> Engine:
    """`autocommit`: every statement commits by itself, BEGIN only when sent; no pre-ping (for raw DB-API use
    that handles a dropped connection itself: helpline.inbound_store)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False},
                               **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    connect_args = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": 5, "options": "-c statement_timeout=15000"}
    return create_engine(url, pool_pre_ping=not autocommit, pool_size=5, max_overflow=10, pool_timeout=10,
                         connect_args=connect_args,
                         **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}))
