"""Fixtures: a throwaway redis-server and PostgreSQL cluster per session, fake
Twilio and Telegram servers on loopback, and the app on SQLite or PostgreSQL."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
import redis

from tests.fakes import FakeProviders

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HELPLINE_CACHE_DIR", str(ROOT / ".cache" / "embeddings"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"service did not come up: {last}")


class RedisServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="helpline-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run the README's test command (make test)")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        _wait(lambda: client.ping())
        client.close()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


def _pg_bin() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("PostgreSQL server binaries are not installed: run the README's test command")
    return versions[-1]


class PostgresServer:
    """initdb + pg_ctl in a temp dir; as the `postgres` user when the tests run as root."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="helpline-pg-")
        self.port = free_port()
        self.bin = _pg_bin()
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else os.environ.get("USER", "postgres")

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> "PostgresServer":
        if self.as_root:
            shutil.chown(self.dir, user="postgres")
        data = Path(self.dir) / "data"
        self._run(self.bin / "initdb", "-D", data, "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        self.resume()
        return self

    def pause(self, mode: str = "fast") -> None:
        """Stops the server, data kept, until resume(): the database away. Not `immediate` (a crash): with
        this cluster's synchronous_commit=off a crash loses the last commits, which a real server keeps."""
        self._run(self.bin / "pg_ctl", "-D", Path(self.dir) / "data", "-m", mode, "-w", "stop")

    def resume(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", Path(self.dir) / "data", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  f"-c synchronous_commit=off -c full_page_writes=off", "-l", Path(self.dir) / "log", "-w", "start")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", Path(self.dir) / "data", "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def fakes() -> Iterator[FakeProviders]:
    f = FakeProviders().start()
    yield f
    f.stop()


_db_counter = 0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """Every test that takes this runs on both databases."""
    global _db_counter
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'helpline.db'}"
    _db_counter += 1
    return request.getfixturevalue("postgres_server").create_database(f"t{os.getpid()}_{_db_counter}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'helpline.db'}"


@pytest.fixture
def make_helpline(tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis, fakes: FakeProviders):
    """Builds the app on the given database, wired to the test Redis and the fake providers."""
    from tests.support import make_app, make_config
    apps = []

    def build(database_url: str | None = None, staff_yaml: str | None = "default", **over: object):
        from tests.support import STAFF_YAML
        url = database_url or f"sqlite:///{tmp_path / 'helpline.db'}"
        config = make_config(tmp_path, url, redis_server.url, fakes.url, **over)
        app = make_app(config, STAFF_YAML if staff_yaml == "default" else staff_yaml)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["helpline"].close()


@pytest.fixture
def app(make_helpline):  # type: ignore[no-untyped-def]
    return make_helpline()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def migrated_db(database_url, tmp_path):  # type: ignore[no-untyped-def]
    """A migrated database (SQLite and PostgreSQL, via database_url) with encryption configured."""
    from helpline import crypto, migrate
    from helpline.config import Config
    from helpline.db import Database
    cfg = Config.from_env({"HELPLINE_DATA_DIR": str(tmp_path), "SECRET_KEY": "s", "DATABASE_URL": database_url,
                           "HELPLINE_ENCRYPTION_KEY": crypto.new_key()})
    crypto.configure(cfg)
    migrate.upgrade(database_url)
    d = Database(database_url)
    yield d
    d.dispose()
