"""Start and stop the servers under test, pinned to one core, on loopback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
HOST = "127.0.0.1"

PEERS = {
    "yws": "y-websocket",
    "hocuspocus": "hocuspocus",
    "pycrdt": "pycrdt-websocket",
    "ours": "ours",
}
# Optional extra: Hocuspocus with its broadcast batching set to our window.
EXTRA_PEERS = {"hocuspocus100": "hocuspocus (flushDelay 100)"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pin(core: str | None) -> list[str]:
    """taskset to one core, and (as root) a raised priority: the machine may be
    shared, and the server and the generator should not queue behind others."""
    out = []
    if os.geteuid() == 0 and shutil.which("nice"):
        out += ["nice", "-n", "-10"]
    if core is not None and shutil.which("taskset"):
        out += ["taskset", "-c", core]
    return out


def raise_priority(pid: int) -> None:
    """With sched_autogroup on, nice only orders processes inside one session;
    between sessions it is the autogroup's nice that counts. Each server and
    generator runs in a session of its own (start_new_session), so raise that."""
    if os.geteuid() != 0:
        return
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write("-10")
    except OSError:
        pass


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    total = sum(fields)
    return total - fields[3] - fields[4], total


def wait_quiet(max_wait: float = 15, threshold: float = 0.15) -> float:
    """Wait (bounded) until other processes use less than `threshold` of the
    machine over one second. Returns the busy fraction last seen."""
    deadline = time.monotonic() + max_wait
    frac = 1.0
    while True:
        b0, t0 = cpu_busy()
        time.sleep(1)
        b1, t1 = cpu_busy()
        frac = (b1 - b0) / max(1, t1 - t0)
        if frac < threshold or time.monotonic() > deadline:
            return frac


def ours_command() -> list[str]:
    exe = os.environ.get("WHITEBOARD_BIN") or str(ROOT / ".venv" / "bin" / "whiteboard")
    return [exe, "serve"]


def available(peer: str) -> str | None:
    """None if the peer can run here, else why not."""
    if peer == "ours":
        exe = ours_command()[0]
        if not os.path.exists(exe):
            return f"{exe} not found (pip install -e . in the project venv)"
        return None
    if peer == "pycrdt" and not (BENCH / ".venv" / "bin" / "uvicorn").exists():
        return "bench/.venv missing: run bash bench/setup.sh"
    if peer in ("yws", "hocuspocus", "hocuspocus100") and not (BENCH / "node_modules").exists():
        return "bench/node_modules missing: run bash bench/setup.sh"
    return None


@dataclass
class Server:
    peer: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    workdir: Path | None = None
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        if self._log:
            self._log.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return self.proc.returncode

    def log_problems(self, limit: int = 5) -> list[str]:
        """Error-looking lines of the server's log (first few)."""
        out = []
        pattern = re.compile(r"\b(ERROR|CRITICAL|FATAL)\b|Traceback|Exception|Error:|error:")
        try:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if pattern.search(line.replace("uvicorn.error", "")):
                    out.append(line.strip()[:240])
                    if len(out) >= limit:
                        break
        except OSError:
            pass
        return out


def start(peer: str, log_path: Path, core: str | None = "0") -> Server:
    port = free_port()
    env = dict(os.environ)
    cwd = BENCH
    workdir = None
    if peer == "yws":
        cmd = ["node", str(BENCH / "node_modules/@y/websocket-server/src/server.js")]
        env.update(HOST=HOST, PORT=str(port))
    elif peer in ("hocuspocus", "hocuspocus100"):
        cmd = ["node", str(BENCH / "peers/hocuspocus.mjs"), "--port", str(port)]
        if peer == "hocuspocus100":
            cmd += ["--flush-delay", "100"]
    elif peer == "pycrdt":
        cmd = [
            str(BENCH / ".venv/bin/uvicorn"),
            "--app-dir",
            str(BENCH / "peers"),
            "pycrdt_app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    elif peer == "ours":
        # As users run it: default settings, SQLite under ./data of a fresh
        # working directory. One exception: the per-IP room limit (default 10),
        # since every simulated user comes from 127.0.0.1 and S2 needs 100 rooms.
        workdir = Path(tempfile.mkdtemp(prefix="wb-bench-"))
        cwd = workdir
        cmd = ours_command() + ["--host", HOST, "--port", str(port)]
        env["WHITEBOARD_MAX_ROOMS_PER_IP"] = "100000"
    else:
        raise ValueError(peer)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    proc = subprocess.Popen(
        pin(core) + cmd,
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    raise_priority(proc.pid)
    server = Server(peer, port, proc, log_path, workdir, log)
    try:
        wait_ready(server, timeout=45)
    except Exception:
        server.stop()
        raise
    return server


def wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{server.port}/healthz" if server.peer == "ours" else None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.peer} exited with {server.proc.returncode} before it was ready; see {server.log_path}")
        try:
            if url:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            else:
                with socket.create_connection((HOST, server.port), timeout=1):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{server.peer} not ready on port {server.port} after {timeout:.0f}s")
