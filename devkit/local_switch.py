"""A Kamailio of its own (as `deploy/local/up --switch` starts it, on free ports), a SIPp UAS
upstream, the adapter and the controller, for the switch tests and `bench-switch`; with an
`Authorization`, also the bridge that asks POST /v1/authorize about every INVITE."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.adapters.kamailio_rpc import KamailioRpc
from pipeline.settings import REPO_ROOT, Settings

KAMAILIO_DIR = REPO_ROOT / "deploy" / "kamailio"
SIPP = KAMAILIO_DIR / "sipp"
DST = "37060000001"
# what kamailio.cfg logs when the authorization bridge says hello, and when it goes
BRIDGE_CONNECTED = "authorize: bridge connected"
BRIDGE_GONE = "authorize: bridge disconnected"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kamailio_binary() -> str:
    return shutil.which("kamailio") or "/usr/sbin/kamailio"


@dataclass(frozen=True)
class Authorization:
    """Kamailio asks the API at `api_url` (with `token`) before each call (kamailio.cfg WITH_AUTHORIZE)."""

    api_url: str
    token: str
    fail_policy: str = "deny"  # when billing does not answer: "deny" or "allow"
    fail_max_seconds: int = 600  # an "allow"ed call's limit then
    wait_seconds: int = 4  # Kamailio's watchdog; the bridge's own timeout must stay below it
    bridge_timeout: float = 3.0


class Switch:
    """Kamailio + UAS + adapter + controller for one test; every process is stopped at the end."""

    def __init__(self, settings: Settings, server: str, authorization: Authorization | None = None,
                 trace_upstream: bool = False, config: Path = KAMAILIO_DIR / "kamailio.cfg") -> None:
        self.settings = settings
        # another configuration (e.g. Kamailio's stock accounting, for the adapters' tests); it
        # must take the same -A defines (SIP_LISTEN, UPSTREAM_URI, RPC_SOCKET, RUN_DIR)
        self.config = config
        # the upstream's SIP messages, as it received them, in `upstream_messages` (e.g. to see what a
        # calling card's relayed INVITE carries)
        self.trace_upstream = trace_upstream
        self.server = server
        self.authorization = authorization
        self.evapi_port = _free_tcp_port() if authorization else None
        self.bridge: subprocess.Popen | None = None
        # a unix socket path must stay under 108 bytes: a short directory of its own
        self.dir = Path(tempfile.mkdtemp(prefix="kam", dir="/tmp"))
        self.sip_port = _free_udp_port()
        self.uas_port = _free_udp_port()
        self.log = self.dir / "kamailio.log"
        self.rpc_socket = self.dir / "rpc.sock"
        self.upstream_messages = self.dir / "uas-messages.txt"
        self.rpc = KamailioRpc(self.rpc_socket)
        self.kamailio: subprocess.Popen | None = None
        self.others: list[subprocess.Popen] = []
        self.env = {**os.environ, "RATING_TOPIC_PREFIX": settings.topic_prefix,
                    "RATING_LOCAL_DIR": str(settings.local_dir), "RATING_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                    "RATING_SWITCH_SERVER": server,
                    # the processes run in the switch's own directory: `-m pipeline...` must find this checkout
                    "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH"))))}

    def start(self) -> Switch:
        self.start_kamailio()
        self.start_upstream()
        self.adapter = self._python(["adapter", "kamailio", "--from-file", str(self.log),
                                     "--state", str(self.dir / "adapter-state.json")], "adapter.log")
        self.controller = self._python(["switch-control", "--rpc-socket", str(self.rpc_socket)], "control.log")
        if self.authorization is not None:
            self.start_bridge()
        self.wait_synced(1)
        return self

    def start_upstream(self) -> None:
        """The SIPp UAS that answers every call Kamailio relays."""
        trace = ["-trace_msg", "-message_file", str(self.upstream_messages)] if self.trace_upstream else []
        self.others.append(self._popen(["sipp", "-sf", str(SIPP / "uas.xml"), "-i", "127.0.0.1",
                                        "-p", str(self.uas_port), "-nostdin", *trace], "uas.out"))

    def start_kamailio(self) -> None:
        """As deploy/kamailio/switch.sh does: foreground, logging to stderr appended to the CDR log."""
        with self.log.open("ab") as log:
            self.kamailio = subprocess.Popen(
                [_kamailio_binary(), "-DD", "-E", "-m", "32", "-f", str(self.config),
                 "-A", f"SIP_LISTEN=udp:127.0.0.1:{self.sip_port}",
                 "-A", f'UPSTREAM_URI="sip:127.0.0.1:{self.uas_port}"',
                 "-A", f'RPC_SOCKET="{self.rpc_socket}"', "-A", f'RUN_DIR="{self.dir}"', *self._auth_defines()],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while not self.rpc_socket.exists():
            assert self.kamailio.poll() is None, f"Kamailio exited:\n{self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "Kamailio made no JSON-RPC socket in 20 s"
            time.sleep(0.1)

    def start_bridge(self) -> None:
        """The authorization bridge, as deploy/kamailio/switch.sh starts it; until Kamailio has its hello."""
        auth = self.authorization
        hellos = self.log.read_text().count(BRIDGE_CONNECTED)
        self.bridge = self._popen(
            [sys.executable, "-m", "pipeline.adapters.kamailio_authorize", "--evapi", f"127.0.0.1:{self.evapi_port}",
             "--api", auth.api_url, "--server", self.server, "--timeout", str(auth.bridge_timeout)],
            "bridge.log", {"RATING_SWITCH_API_TOKEN": auth.token})
        self.others.append(self.bridge)
        self.wait_logged(BRIDGE_CONNECTED, hellos + 1, self.bridge)

    def stop_bridge(self) -> None:
        self.bridge.terminate()
        self.bridge.wait(timeout=20)
        self.wait_logged(BRIDGE_GONE, 1)

    def wait_logged(self, text: str, times: int, alive: subprocess.Popen | None = None, timeout: float = 30) -> None:
        """Until Kamailio's log holds `text` `times` times (while `alive` runs)."""
        deadline = time.monotonic() + timeout
        while self.log.read_text().count(text) < times:
            assert time.monotonic() < deadline, f"Kamailio never logged {text!r}\n{self.logs()}"
            assert alive is None or alive.poll() is None, f"exited: {alive.args}\n{self.logs()}"
            time.sleep(0.1)

    def _auth_defines(self) -> list[str]:
        auth = self.authorization
        if auth is None:
            return []
        defines = ["WITH_AUTHORIZE", f'AUTH_EVAPI_LISTEN="127.0.0.1:{self.evapi_port}"',
                   f'AUTH_FAIL_POLICY="{auth.fail_policy}"', f"AUTH_FAIL_MAX_SECONDS={auth.fail_max_seconds}",
                   f"AUTH_WAIT_SECONDS={auth.wait_seconds}"]
        return [arg for define in defines for arg in ("-A", define)]

    def stop_kamailio(self) -> None:
        self.kamailio.terminate()
        self.kamailio.wait(timeout=20)
        self.rpc_socket.unlink(missing_ok=True)

    def _popen(self, args: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        with (self.dir / log_name).open("ab") as log:
            return subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self.dir,
                                    env={**self.env, **(env or {})}, start_new_session=True)

    def _python(self, args: list[str], log_name: str) -> subprocess.Popen:
        process = self._popen([sys.executable, "-m", "pipeline.adapters", *args], log_name)
        self.others.append(process)
        return process

    def wait_synced(self, times: int, timeout: float = 60) -> None:
        """Until the controller has synced Kamailio's table `times` times (once per Kamailio start)."""
        log = self.dir / "control.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log.read_text() if log.exists() else ""
            if text.count("Kamailio (up since") >= times:
                return
            assert self.controller.poll() is None, f"controller exited:\n{text[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"controller did not sync Kamailio {times} time(s):\n{log.read_text()[-3000:]}")

    def call(self, scenario: str, account: str, *extra: str, timeout: int = 30,
             dst: str = DST) -> subprocess.CompletedProcess:
        """One SIPp call as `account` (the From user) to `dst` (the Request-URI user: a number, or a
        calling card's `*CARD*PIN%23DESTINATION`); the exit status is SIPp's (0: the scenario went as written)."""
        return subprocess.run(
            ["sipp", "-sf", str(SIPP / scenario), "-key", "account", account, "-s", dst, "-m", "1",
             "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-nostdin", "-timeout", f"{timeout}s",
             "-timeout_error", *extra, f"127.0.0.1:{self.sip_port}"],
            cwd=self.dir, capture_output=True, text=True, timeout=timeout + 15)

    def start_call(self, scenario: str, account: str, *extra: str, dst: str = DST) -> subprocess.Popen:
        return subprocess.Popen(
            ["sipp", "-sf", str(SIPP / scenario), "-key", "account", account, "-s", dst, "-m", "1",
             "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-nostdin", "-timeout", "60s", "-timeout_error",
             *extra, f"127.0.0.1:{self.sip_port}"], cwd=self.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        for process in [*self.others, self.kamailio]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.others, self.kamailio]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.dir.glob("*.log")))
