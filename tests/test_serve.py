"""`helpline serve` as a real process: starts, answers, stops clean with no child left."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port


def descendants(pid: int) -> set[int]:
    """Every process whose parent chain leads to pid (children start their own sessions)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.slow
def test_serve_starts_answers_and_stops_clean(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "TWILIO_", "TELEGRAM_"))}
    env.update(HELPLINE_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    env.pop("SECRET_KEY", None)
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "helpline.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if get(f"http://127.0.0.1:{port}/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        assert get(f"http://127.0.0.1:{port}/readyz") == 200
        kids = descendants(proc.pid)
        cmdlines = " ".join(Path(f"/proc/{k}/cmdline").read_bytes().decode(errors="replace") for k in kids
                            if Path(f"/proc/{k}/cmdline").exists())
        assert "redis-server" in cmdlines and "gunicorn" in cmdlines and "worker" in cmdlines and "scheduler" in cmdlines
        assert (tmp_path / "data" / "helpline.db").exists() and (tmp_path / "data" / "redis").is_dir()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.1)
        assert not [k for k in kids if alive(k)], "children left running after SIGTERM"
        out = (tmp_path / "serve.log").read_text()
        assert f"http://127.0.0.1:{port}/" in out
        assert "Twilio (WhatsApp, SMS) channel off" in out and "Telegram channel off" in out
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
def test_demo_refuses_an_external_database(tmp_path):
    env = dict(os.environ, HELPLINE_DATA_DIR=str(tmp_path), DATABASE_URL="postgresql+psycopg://x@127.0.0.1:1/x",
               SECRET_KEY="s")
    r = subprocess.run([sys.executable, "-m", "helpline.cli", "serve", "--demo"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "embedded default" in r.stderr
