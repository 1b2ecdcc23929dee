"""Start and stop a real, standalone ZooKeeper server for the differential tests (marker `real`).

Debian's ``zookeeper`` package (3.8) puts ``zookeeper.jar`` in ``/usr/share/java``; its manifest
names the other jars it needs. :class:`ZooKeeperServer` writes a ``zoo.cfg`` into a temporary
directory, runs ``org.apache.zookeeper.server.ZooKeeperServerMain`` on a free 127.0.0.1 port with
a small heap, waits (bounded) until the server answers ``ruok`` with ``imok``, and kills it on
``stop``. :func:`missing` says why a server cannot be started here (the tests then skip).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

JAVA_DIR = Path(os.environ.get("DSLAB_ZK_JARS", "/usr/share/java"))
SERVER_JAR = JAVA_DIR / "zookeeper.jar"
# slf4j without a binding prints a warning and logs nothing; the nop binding just logs nothing
QUIET_LOGGING_JAR = JAVA_DIR / "slf4j-nop.jar"
MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
SKIP_REASON = "ZooKeeper not installed: run sudo .ci/system-deps"
TICK_MS = 200  # session timeouts may range from 2 to 20 ticks: 0.4 s to 4 s


def java() -> str | None:
    found = shutil.which("java")
    if found:
        return found
    return "/usr/bin/java" if Path("/usr/bin/java").exists() else None


def missing() -> str | None:
    """Why a ZooKeeper server cannot be started here, or ``None`` if it can."""
    if java() is None or not SERVER_JAR.exists():
        return SKIP_REASON
    try:
        import kazoo  # noqa: F401
    except ImportError:
        return "kazoo not installed: pip install -e '.[test]'"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port: int, word: str, timeout_s: float = 1.0) -> str:
    """Send a four-letter command (``ruok``, ``srvr``) and return the answer ('' on failure)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(4096)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeperServer:
    """One standalone server: ``start()``, then ``hosts`` for clients, then ``stop()``."""

    def __init__(self, *, heap: str = "-Xmx256m", ready_timeout_s: float = 30.0) -> None:
        self.heap = heap
        self.ready_timeout_s = ready_timeout_s
        self.port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = float("nan")

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def config(self) -> str:
        assert self.dir is not None
        return "\n".join(
            [
                f"tickTime={TICK_MS}",
                f"dataDir={self.dir / 'data'}",
                f"clientPort={self.port}",
                "clientPortAddress=127.0.0.1",
                f"minSessionTimeout={2 * TICK_MS}",
                f"maxSessionTimeout={20 * TICK_MS}",
                "admin.enableServer=false",
                "4lw.commands.whitelist=ruok,srvr",
                "maxClientCnxns=0",
                "",
            ]
        )

    def start(self) -> ZooKeeperServer:
        why = missing()
        if why is not None:
            raise RuntimeError(why)
        self.dir = Path(tempfile.mkdtemp(prefix="dslab-zk-"))
        (self.dir / "data").mkdir()
        self.port = free_port()
        cfg = self.dir / "zoo.cfg"
        cfg.write_text(self.config())
        classpath = [str(SERVER_JAR)]
        if QUIET_LOGGING_JAR.exists():
            classpath.append(str(QUIET_LOGGING_JAR))
        cmd = [java(), self.heap, "-cp", os.pathsep.join(classpath), MAIN, str(cfg)]
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115 - closed with the process
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = t0 + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"ZooKeeper exited with {self.proc.returncode}:\n{tail}")
            if four_letter(self.port, "ruok", 0.5).startswith("imok"):
                self.startup_s = time.monotonic() - t0
                return self
            time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"ZooKeeper not ready after {self.ready_timeout_s} s:\n{tail}")

    def log_tail(self, lines: int = 20) -> str:
        if self.dir is None or not (self.dir / "server.log").exists():
            return ""
        text = (self.dir / "server.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Kill the server (its whole process group) and remove its directory."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
