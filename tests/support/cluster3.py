"""A second, 3-broker Kafka cluster beside the main local stack, for tests that kill brokers.

Driven through the real scripts, exactly as an operator would:

    RATING_LOCAL_DIR=<repo>/.local/cluster3 RATING_KAFKA_BOOTSTRAP=127.0.0.1:19092 \\
        deploy/local/up --brokers 3 --kafka-only          # start, or start again what died
    RATING_LOCAL_DIR=<repo>/.local/cluster3 deploy/local/down --purge

Node N (node.id N) listens on 19092 + 2*(N-1) (controller: +1), so the main stack's broker on
9092 is never touched. Only one test process at a time can own the cluster (the ports are fixed):
`start()` takes a file lock in the state dir, which `stop()` (or the process's exit) releases.

    cluster = LocalCluster3()
    cluster.start()
    try:
        settings = cluster.settings(topic_prefix="x-")   # bootstrap of all 3, replication factor 3
        node = cluster.leader_node("x-cdr.raw", 0)
        cluster.kill(node)           # SIGKILL; the pid is gone when it returns
        cluster.restart()            # `up` again: starts that node, waits until all 3 are brokers
        cluster.wait_for_isr("x-cdr.raw", 3)
    finally:
        cluster.stop()
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

from pipeline.kafka.clients import KafkaClients
from pipeline.settings import REPO_ROOT, Settings

UP = REPO_ROOT / "deploy" / "local" / "up"
DOWN = REPO_ROOT / "deploy" / "local" / "down"
NODES = (1, 2, 3)


class LocalCluster3:
    def __init__(self, state_dir: Path | str = REPO_ROOT / ".local" / "cluster3", port: int = 19092,
                 *, up_timeout: int = 120, lock_timeout: float = 900.0) -> None:
        self.state_dir = Path(state_dir)
        self.port = port
        self.up_timeout = up_timeout
        self.lock_timeout = lock_timeout
        self._lock_fd: int | None = None
        self.last_output = ""  # what the last up/down printed
        self.last_up_seconds = 0.0  # how long the last start()/restart() took (not the lock wait)

    # --- where things are -------------------------------------------------------------------------
    def node_port(self, node: int) -> int:
        self._check(node)
        return self.port + 2 * (node - 1)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.node_port(n)}" for n in NODES)

    def settings(self, **overrides) -> Settings:
        """Settings of a client of this cluster: all three brokers, replication factor 3."""
        values = {"kafka_bootstrap": self.bootstrap, "replication_factor": 3}
        values.update(overrides)
        return Settings(**values)

    def config_path(self, node: int) -> Path:
        self._check(node)
        return self.state_dir / "kafka3" / f"node-{node}" / "server.properties"

    def log_path(self, node: int) -> Path:
        self._check(node)
        return self.state_dir / "logs" / f"kafka3-node-{node}.log"

    def pid(self, node: int) -> int | None:
        """The node's JVM pid while it runs (checked against its config path, as `down` does)."""
        try:
            pid = int((self.state_dir / "run" / f"kafka3-node-{node}.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            return None
        if str(self.config_path(node)) not in cmdline or _is_zombie(pid):
            return None
        return pid

    def java_pids(self) -> list[int]:
        """Every process whose command line names this state dir's Kafka nodes (down leaves none)."""
        needle = str(self.state_dir / "kafka3") + "/"
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if "kafka.Kafka" in cmd and needle in cmd and not _is_zombie(int(entry.name)):
                    found.append(int(entry.name))
        return found

    # --- start, kill, restart, stop -----------------------------------------------------------------
    def start(self) -> str:
        """`up --brokers 3 --kafka-only`: returns once all three nodes are brokers of the cluster."""
        self._lock()
        t0 = time.monotonic()
        out = self._run(UP, "--brokers", "3", "--kafka-only")
        self.last_up_seconds = time.monotonic() - t0
        return out

    def restart(self) -> str:
        """`up` again: starts the nodes that are not running (a killed one) and waits for them."""
        return self.start()

    def kill(self, node: int, sig: int = signal.SIGKILL, timeout: float = 30.0) -> int:
        """Signal one node (SIGKILL: a crash); returns its pid once the process is gone."""
        pid = self.pid(node)
        if pid is None:
            raise RuntimeError(f"Kafka node {node} of {self.state_dir} is not running")
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while self.pid(node) == pid:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka node {node} (pid {pid}) still runs {timeout}s after signal {sig}")
            time.sleep(0.1)
        return pid

    def stop(self, purge: bool = True) -> str:
        """`down` (with --purge: its data and logs go too); releases the lock."""
        try:
            return self._run(DOWN, *(["--purge"] if purge else []))
        finally:
            self._unlock()

    # --- what the cluster says ------------------------------------------------------------------------
    # Plain (blocking) functions: each asks through aiokafka's admin on an event loop of its own
    # thread, so they work from sync code, from a coroutine (they block it: prefer
    # asyncio.to_thread there) and from a thread.
    def describe(self, topic: str, timeout: float = 60.0) -> list[dict]:
        """The topic's partitions (partition, leader, replicas, isr), sorted by partition. Retried:
        right after a kill the metadata still lists the dead broker, and an admin request may go
        to it."""
        return _blocking(self._describe(topic, timeout))

    def leader_node(self, topic: str, partition: int, timeout: float = 15.0) -> int:
        """The node (1..3) that leads that partition now (node N runs broker id N). Raises when
        the partition has no live leader at the moment (a killed leader, before the controller
        fenced it, still counts as leader)."""
        for p in self.describe(topic, timeout):
            if p["partition"] == partition:
                if p["leader"] not in NODES:
                    raise RuntimeError(f"{topic}[{partition}] has no leader now ({p['leader']})")
                return p["leader"]
        raise KeyError(f"{topic} has no partition {partition}")

    def isr(self, topic: str) -> dict[int, list[int]]:
        """Partition -> the nodes in its in-sync replica set."""
        return {p["partition"]: sorted(p["isr"]) for p in self.describe(topic)}

    def wait_for_isr(self, topic: str, size: int = 3, timeout: float = 90.0) -> dict[int, list[int]]:
        """Until every partition of the topic has `size` in-sync replicas; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            isr = self.isr(topic)
            if isr and all(len(nodes) >= size for nodes in isr.values()):
                return isr
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: ISR still {isr} after {timeout}s (wanted {size} each)")
            time.sleep(0.5)

    async def _describe(self, topic: str, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            admin = KafkaClients(self.settings()).admin()
            try:
                await admin.start()
                described = await admin.describe_topics([topic])
                partitions = described[0]["partitions"] if described else []
                if partitions and described[0].get("error_code", 0) == 0:
                    return sorted(partitions, key=lambda p: p["partition"])
                last = RuntimeError(f"{topic}: {described}")
            except Exception as e:  # noqa: BLE001 - any client error: the cluster is moving, ask again
                last = e
            finally:
                await admin.close()
            await asyncio.sleep(0.5)
        raise TimeoutError(f"could not describe {topic} within {timeout}s: {last!r}")

    # --- helpers -----------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["RATING_LOCAL_DIR"] = str(self.state_dir)
        env["RATING_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{self.port}"
        env["RATING_LOCAL_UP_TIMEOUT"] = str(self.up_timeout)
        return env

    def _run(self, script: Path, *args: str) -> str:
        out = subprocess.run([str(script), *args], env=self._env(), cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=self.up_timeout * 3)
        self.last_output = out.stdout + out.stderr
        if out.returncode != 0:
            raise RuntimeError(f"{script.name} {' '.join(args)} failed (exit {out.returncode}):\n"
                               f"{self.last_output}")
        return self.last_output

    def _lock(self) -> None:
        if self._lock_fd is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / ".test-lock", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise TimeoutError(f"another test process holds the cluster in {self.state_dir} "
                                       f"for more than {self.lock_timeout}s") from None
                time.sleep(1)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    @staticmethod
    def _check(node: int) -> None:
        if node not in NODES:
            raise ValueError(f"node must be one of {NODES}, not {node!r}")


def _blocking(coro):
    """Run a coroutine to its end on a fresh event loop in a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
