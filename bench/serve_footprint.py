"""Start-up time and memory of `helpline serve` on the embedded default (all its processes).

    python bench/serve_footprint.py
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import free_port  # noqa: E402


def tree(pid: int) -> dict[int, tuple[str, float]]:
    parents, info = {}, {}
    for e in Path("/proc").iterdir():
        if e.name.isdigit():
            try:
                parents[int(e.name)] = int((e / "stat").read_text().rsplit(")", 1)[1].split()[1])
                rss = next(int(x.split()[1]) for x in (e / "status").read_text().splitlines() if x.startswith("VmRSS:"))
                cmd = (e / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                info[int(e.name)] = (cmd, rss / 1024)
            except (OSError, StopIteration, ValueError, IndexError):
                continue
    found, frontier = {pid}, {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return {p: info[p] for p in found if p in info}


def main() -> int:
    data, port = tempfile.mkdtemp(prefix="bench-serve-"), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(HELPLINE_DATA_DIR=data)
    log = open(os.path.join(data, "serve.log"), "w")
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "helpline.cli", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        healthy = time.perf_counter() - t
        while Path(data, "serve.log").read_text().count("ready in") < 2:
            time.sleep(0.05)
        ready = time.perf_counter() - t
        time.sleep(2)
        procs = tree(proc.pid)
        print(f"helpline serve: /healthz answers after {healthy:.1f} s; both workers ready after {ready:.1f} s")
        total = 0.0
        for pid, (cmd, rss) in sorted(procs.items()):
            total += rss
            short = cmd.replace(sys.executable, "python")[:90]
            print(f"  {rss:7.1f} MB  {short}")
        print(f"  {total:7.1f} MB  in all ({len(procs)} processes, at rest)")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
