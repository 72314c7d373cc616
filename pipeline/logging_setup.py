"""The one logging setup of the project."""
from __future__ import annotations

import logging

from aiokafka.errors import LeaderNotAvailableError, NotLeaderForPartitionError

# Right after a topic is created its partitions have no leader for a moment. aiokafka's fetcher
# logs each try meanwhile at ERROR ("Failed fetch offsets from 1: [Error 6]
# NotLeaderForPartitionError") and simply tries again; so does its sender. They are the broker
# settling, not errors: a leader that never comes surfaces as our own timeout with its own message.
TRANSIENT_LEADERSHIP = (NotLeaderForPartitionError, LeaderNotAvailableError)


class TransientKafkaNoise(logging.Filter):
    """aiokafka's records about a partition leader not there yet: kept at DEBUG, dropped above it.
    Any other record of aiokafka, at any level, passes untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno <= logging.DEBUG:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        transient = any(isinstance(arg, TRANSIENT_LEADERSHIP) or
                        (isinstance(arg, type) and issubclass(arg, TRANSIENT_LEADERSHIP)) for arg in args)
        if not transient:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_transient_kafka_noise() -> None:
    """The filter on every root handler (records of all loggers pass through them), once."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TransientKafkaNoise) for f in handler.filters):
            handler.addFilter(TransientKafkaNoise())


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiokafka logs every rebalance and coordinator hiccup at INFO; keep the worker readable
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    quiet_transient_kafka_noise()
