"""The one logging setup of the project."""
from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiokafka logs every rebalance and coordinator hiccup at INFO; keep the worker readable
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
