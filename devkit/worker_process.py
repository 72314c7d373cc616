"""A worker as a child process, for the demo, the benchmarks and the tests that kill it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment under which a child process builds exactly these settings."""
    return settings.environment(dict(os.environ))


class WorkerProcess:
    """`python -m pipeline worker` (or another command: `args`) as a child process."""

    def __init__(self, settings: Settings, log_path: Path,
                 args: tuple[str, ...] = ("worker", "--without-web", "--loglevel=info")) -> None:
        self.settings = settings
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *self.args],
            env=settings_env(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a kill reaches the worker alone, not the caller
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no goodbye — the crash the pipeline must survive."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until_logged(self, text: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited ({self.process.returncode}):\n{self.log_tail()}")
            if self.log_path.exists() and text in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker did not log {text!r} in {timeout} s:\n{self.log_tail()}")


def start_api(settings: Settings, log_path: Path, timeout: float = 60.0) -> WorkerProcess:
    """`python -m pipeline api` as a child process, returned once it answers on its port."""
    import urllib.request

    api = WorkerProcess(settings, log_path, args=("api",)).start()
    url = f"http://{settings.api_host}:{settings.api_port}/openapi.json"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return api
        except OSError:
            if not api.alive() or time.monotonic() > deadline:
                api.kill()
                raise RuntimeError(f"the API did not start:\n{api.log_tail()}") from None
            time.sleep(0.3)
