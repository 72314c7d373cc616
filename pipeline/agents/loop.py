"""The one loop of every service that owns a consumer: a failed step is logged and retried, so
a broker hiccup or a rebalance in the middle of a step never stops the worker."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
RETRY_AFTER = 1.0  # seconds


async def run_steps(service, step: Callable[[], Awaitable[None]],
                    on_error: Callable[[], Awaitable[None]] | None = None) -> None:
    while not service.should_stop:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            if service.should_stop:  # consumers closed under a step that was still waiting
                return
            log.exception("%s: step failed; retrying in %.0f s", type(service).__name__, RETRY_AFTER)
            await asyncio.sleep(RETRY_AFTER)
            if on_error is not None:
                try:
                    await on_error()
                except Exception:
                    log.exception("%s: recovery failed; the next step tries again", type(service).__name__)


async def rewind_to_committed(consumer) -> None:
    """After a failed step: read again from the last commit, so nothing read is skipped."""
    for tp in consumer.assignment():
        committed = await consumer.committed(tp)
        if committed is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)
