"""The Procfile's processes as on several machines: two `web` gunicorn masters, two `worker` and
one `scheduler` as separate OS processes on one PostgreSQL and one Redis pass the conformance run
(`../shared/conformance/run --serve scripts/serve-cluster`), and the log of that whole run holds no
contact's number, Telegram chat id or message text, and no secret."""
from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from rq import Worker
from sqlalchemy import create_engine, text

from helpline import crypto

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT.parent / "shared" / "conformance"
SERVE_CLUSTER = ROOT / "scripts" / "serve-cluster"
REDIS_DB = 7  # a db of its own on the session's redis-server
RUN_TIMEOUT_SECONDS = 900
SECRET_VARS = ("SECRET_KEY", "HELPLINE_ENCRYPTION_KEY", "TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN",
               "TELEGRAM_WEBHOOK_SECRET")


def process_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process we may read."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (ppid, argv)
    return table


def kind_of(argv: list[str]) -> str:
    """web, worker or scheduler for a child of serve-cluster, from its command line."""
    names = [Path(a).name for a in argv[:2]]
    if "gunicorn" in names or argv[:1] and argv[0].startswith("gunicorn: master"):  # setproctitle's name
        return "web"
    if argv[:1] and argv[0].startswith("rq:worker"):
        return "worker"
    if "helpline" in names:
        for kind in ("worker", "scheduler"):
            if kind in argv[1:]:
                return kind
    return "other: " + " ".join(argv)


def listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets in LISTEN state on this port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


@dataclass
class Observed:
    """What the watcher saw of the cluster from outside while the conformance run went on."""

    children: dict[int, str] = field(default_factory=dict)  # pid -> kind, direct children of serve-cluster
    listening_masters: set[int] = field(default_factory=set)  # web children whose process tree listens
    most_rq_workers: int = 0
    rq_worker_pids: set[int] = field(default_factory=set)
    cluster_env: dict[str, str] = field(default_factory=dict)
    port: int | None = None

    def pids(self, kind: str) -> set[int]:
        return {pid for pid, k in self.children.items() if k == kind}


class Watcher(threading.Thread):
    """Looks at the process tree, the listening sockets and RQ's worker registry twice a second."""

    def __init__(self, root_pid: int, redis_url: str) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.redis = root_pid, redis.Redis.from_url(redis_url)
        self.seen = Observed()
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            try:
                self.look()
            except (OSError, redis.RedisError):
                continue  # a process that ended mid-read, or Redis busy: next look

    def look(self) -> None:
        table = process_table()
        cluster = [pid for pid, (ppid, argv) in table.items()
                   if ppid == self.root_pid and str(SERVE_CLUSTER) in argv]
        if not cluster:
            return
        pid, (_ppid, argv) = cluster[0], table[cluster[0]]
        if self.seen.port is None and "--port" in argv:
            self.seen.port = int(argv[argv.index("--port") + 1])
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
            self.seen.cluster_env = dict(e.split("=", 1) for e in environ if "=" in e)
        for child, (ppid, child_argv) in table.items():
            # a child between fork and exec still shows serve-cluster's argv, a zombie none
            if ppid == pid and child_argv and self.seen.children.get(child, "other").startswith("other"):
                self.seen.children[child] = kind_of(child_argv)
        if self.seen.port is not None:
            self.seen.listening_masters |= self.listening_web(table, pid, listening_inodes(self.seen.port))
        workers = Worker.all(connection=self.redis)
        self.seen.most_rq_workers = max(self.seen.most_rq_workers, len(workers))
        self.seen.rq_worker_pids |= {w.pid for w in workers if w.pid}

    def listening_web(self, table: dict[int, tuple[int, list[str]]], cluster: int,
                      inodes: set[str]) -> set[int]:
        """The web children holding a listening socket, themselves or through their gunicorn workers."""
        found = set()
        for master in self.seen.pids("web"):
            if table.get(master, (0, []))[0] != cluster:
                continue
            tree = {master} | {p for p, (ppid, _argv) in table.items() if ppid == master}
            if any(socket_inodes(p) & inodes for p in tree):
                found.add(master)
        return found


@dataclass
class ClusterRun:
    returncode: int
    output: str
    results: list[dict]
    log: str
    seen: Observed
    database_url: str
    encryption_key: str


def _tail(s: str, n: int = 3000) -> str:
    return s[-n:]


@pytest.fixture(scope="module")
def cluster_run(postgres_server, redis_server, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One conformance run against serve-cluster, shared by the tests of this module."""
    run = CONFORMANCE / "run"
    if not run.exists():
        pytest.fail(f"{run} is missing: the conformance suite must sit beside the repository (../shared)")
    tmp = tmp_path_factory.mktemp("cluster")
    database_url = postgres_server.create_database(f"cluster_{os.getpid()}")
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    key = crypto.new_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELEGRAM_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               DATABASE_URL=database_url, REDIS_URL=redis_url, HELPLINE_ENCRYPTION_KEY=key,
               HELPLINE_CLUSTER_LOG=str(tmp / "cluster.log"), PYTHONUNBUFFERED="1")
    results_file, output_file = tmp / "results.json", tmp / "conformance.out"
    with open(output_file, "w") as out:
        proc = subprocess.Popen([str(run), "--serve", str(SERVE_CLUSTER), "--json", str(results_file)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    watcher = Watcher(proc.pid, redis_url)
    watcher.start()
    try:
        try:
            returncode = proc.wait(RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            returncode = -1
    finally:
        watcher.stop_event.set()
        watcher.join(10)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in watcher.seen.children:  # nothing of the cluster may outlive the run
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    log_path = tmp / "cluster.log"
    yield ClusterRun(returncode, output_file.read_text(errors="replace"), results,
                     log_path.read_text(errors="replace") if log_path.exists() else "",
                     watcher.seen, database_url, key)


@pytest.mark.slow
def test_conformance_passes_against_separate_processes(cluster_run: ClusterRun) -> None:
    failed = [r for r in cluster_run.results if not r["ok"]]
    report = "\n".join(f"{r['area']}/{r['name']}: {r['detail']}" for r in failed)
    assert cluster_run.results and not failed and cluster_run.returncode == 0, (
        f"conformance exited {cluster_run.returncode}; {len(failed)} of {len(cluster_run.results)} cases "
        f"failed:\n{report}\n--- conformance output:\n{_tail(cluster_run.output)}\n"
        f"--- cluster log:\n{_tail(cluster_run.log)}")


@pytest.mark.slow
def test_the_set_was_two_web_two_workers_one_scheduler(cluster_run: ClusterRun) -> None:
    seen = cluster_run.seen
    kinds = sorted(seen.children.values())
    assert kinds == ["scheduler", "web", "web", "worker", "worker"], (
        f"serve-cluster's children over the whole run: {kinds}")
    web, workers = sorted(seen.pids("web")), sorted(seen.pids("worker"))
    assert seen.listening_masters == set(web), (
        f"of the web masters {web}, {sorted(seen.listening_masters)} listened on {seen.port}")
    assert seen.most_rq_workers == 2, f"{seen.most_rq_workers} RQ workers registered in Redis at once, not 2"
    assert seen.rq_worker_pids == set(workers), (
        f"RQ workers {sorted(seen.rq_worker_pids)} are not the `worker` processes {workers}")
    for name in ("web.1", "web.2", "worker.1", "worker.2", "scheduler.1"):
        assert re.search(rf"^{re.escape(name)}\| ", cluster_run.log, re.M), f"no output of {name} in the log"
    started = re.findall(r"^web\.\d\| .*\[(\d+)\] \[INFO\] Starting gunicorn", cluster_run.log, re.M)
    assert sorted(int(p) for p in started) == web, f"gunicorn masters {started}, web children {web}"


def _case_literals() -> tuple[set[str], set[str]]:
    """Texts the public cases send and phone numbers they name, read from their source."""
    source = (CONFORMANCE / "public_cases.py").read_text()
    texts: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("ask", "say", "twilio_params", "telegram_message"):
            texts |= {a.value for a in node.args[:1]
                      if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == "text" and isinstance(v, ast.Constant):
                    texts.add(str(v.value))
    return texts, set(re.findall(r"\+\d{8,15}", source))


def _stored(run: ClusterRun) -> tuple[set[str], set[str], set[str]]:
    """Every contact address, staff phone and message text the run left in the database, decrypted."""
    fernet = Fernet(run.encryption_key.encode())
    numbers, chat_ids, texts = set(), set(), set()
    engine = create_engine(run.database_url)
    try:
        with engine.connect() as conn:
            for channel, address in conn.execute(text("SELECT channel, address FROM contact "
                                                       "WHERE address IS NOT NULL")):
                plain = fernet.decrypt(address.encode()).decode().removeprefix("whatsapp:")
                (chat_ids if channel == "telegram" else numbers).add(plain)
            numbers |= {p for (p,) in conn.execute(text("SELECT phone FROM staff WHERE phone IS NOT NULL"))}
            for (stored,) in conn.execute(text("SELECT text FROM message WHERE text IS NOT NULL "
                                               "AND (direction = 'in' OR author LIKE 'staff:%')")):
                texts.add(fernet.decrypt(stored.encode()).decode())
    finally:
        engine.dispose()
    return numbers, chat_ids, texts


def _digits_pattern(digits: str) -> str:
    return rf"(?<!\d){re.escape(digits)}(?!\d)"


@pytest.mark.slow
def test_logs_hold_no_numbers_texts_or_secrets(cluster_run: ClusterRun) -> None:
    log = cluster_run.log
    assert re.search(r"^web\.1\| .*Booting worker", log, re.M), "the cluster log is missing or empty"
    literal_texts, literal_numbers = _case_literals()
    numbers, chat_ids, texts = _stored(cluster_run)
    numbers |= literal_numbers
    texts |= literal_texts
    # a run that stored nothing would pass vacuously
    assert len(numbers) >= 5 and len(chat_ids) >= 1 and len(texts) >= 8, (numbers, chat_ids, texts)
    leaks: list[str] = []
    for number in sorted(numbers):
        if re.search(_digits_pattern(number.lstrip("+")), log):
            leaks.append(f"phone number {number}")
    for chat_id in sorted(chat_ids):
        if re.search(_digits_pattern(chat_id), log):
            leaks.append(f"Telegram chat id {chat_id}")
    for t in sorted(texts):
        t = t.strip()
        if len(t) < 6 and t.isascii():  # "1", "Hi", "STOP": menu words, not told apart from log words
            continue
        forms = {t, json.dumps(t)[1:-1], urllib.parse.quote_plus(t)}
        if any(f in log for f in forms):
            leaks.append(f"message text {t!r}")
    for var in SECRET_VARS:
        value = cluster_run.seen.cluster_env.get(var, "")
        assert value, f"{var} was not in serve-cluster's environment"
        if value in log:
            leaks.append(f"the value of {var}")
    assert not leaks, "the cluster log holds: " + "; ".join(leaks)


def _start_cluster(tmp_path: Path, database_url: str, redis_url: str, out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY="cluster-test",
               HELPLINE_ENCRYPTION_KEY=crypto.new_key(), HELPLINE_DATA_DIR=str(tmp_path))
    with open(out, "w") as f:
        return subprocess.Popen([str(SERVE_CLUSTER), "--port", "0", "--web", "1", "--worker", "1"], env=env,
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def _started_pids(proc: subprocess.Popen[bytes], out: Path, count: int,
                  timeout: float = 60) -> dict[str, int]:
    """Waits until serve-cluster's output names `count` children's pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {m.group(1): int(m.group(2))
                for m in re.finditer(r"^serve-cluster\| (\S+) pid (\d+):", out.read_text(), re.M)}
        if len(pids) >= count:
            return pids
        assert proc.poll() is None, f"serve-cluster exited {proc.returncode}: {out.read_text()[-2000:]}"
        time.sleep(0.1)
    raise AssertionError(f"serve-cluster named no {count} children in {timeout} s: {out.read_text()[-2000:]}")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.slow
@pytest.mark.parametrize("event", ["a worker dies", "SIGTERM"])
def test_serve_cluster_stops_every_child(event, postgres_server, redis_server, tmp_path):  # type: ignore[no-untyped-def]
    database_url = postgres_server.create_database(f"cluster_stop_{os.getpid()}")
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB + 1}"
    out = tmp_path / "out.log"
    proc = _start_cluster(tmp_path, database_url, redis_url, out)
    pids: dict[str, int] = {}
    try:
        pids = _started_pids(proc, out, 3)
        assert sorted(pids) == ["scheduler.1", "web.1", "worker.1"]
        if event == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            os.kill(pids["worker.1"], signal.SIGKILL)
        returncode = proc.wait(60)
        output = out.read_text()
        assert returncode == (0 if event == "SIGTERM" else 1), output[-2000:]
        if event != "SIGTERM":
            assert "worker.1 exited with -9; stopping the rest" in output
        left = [name for name, pid in pids.items() if not _gone(pid)]
        assert not left, f"still running after serve-cluster exited: {left}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in pids.values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_serve_cluster_refuses_the_embedded_stores(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    for extra, names in (({}, "DATABASE_URL"), ({"DATABASE_URL": f"sqlite:///{tmp_path}/h.db",
                                                 "REDIS_URL": "redis://127.0.0.1:1/0"}, "DATABASE_URL"),
                         ({"DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:1/h"}, "REDIS_URL")):
        r = subprocess.run([str(SERVE_CLUSTER), "--port", "0"], env={**env, **extra}, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and names in r.stderr and not r.stdout, (extra, r.returncode, r.stderr)
