"""The role `alerts` of `python -m pipeline worker`: the alert agents as a child process.

Why a child and not the worker's own app: the worker's faust.App has Kafka off (its stages read
with their own clients), while the alert agents need Faust's consumer, tables and assignor on; a
process has one Faust app and one event loop. A child also keeps the windows' work off the GIL the
money path needs. It is `python -m pipeline alerts` with the worker's settings; restarted (after 5 s)
if it dies, stopped with the worker, and it dies with it (PR_SET_PDEATHSIG where there is one).
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys

import faust

from pipeline.settings import Settings

log = logging.getLogger(__name__)
RESTART_SECONDS = 5.0


def child_env(settings: Settings) -> dict[str, str]:
    return settings.environment(dict(os.environ))


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class AlertsChild(faust.Service):
    def __init__(self, settings: Settings, **kwargs) -> None:
        self.settings = settings
        self.process: asyncio.subprocess.Process | None = None
        super().__init__(**kwargs)

    @faust.Service.task
    async def _run(self) -> None:
        while not self.should_stop:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pipeline", "alerts", env=child_env(self.settings),
                preexec_fn=_die_with_parent)
            log.info("alert agents started (pid %d)", self.process.pid)
            code = await self.process.wait()
            if self.should_stop:
                return
            log.error("alert agents exited with %s; starting again in %.0f s", code, RESTART_SECONDS)
            await asyncio.sleep(RESTART_SECONDS)

    async def on_stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
