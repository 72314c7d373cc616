"""The invoices' topics exist before a command uses them (their names are in pipeline/kafka/topics.py)."""
from __future__ import annotations

from pipeline.kafka.admin import ensure_topics
from pipeline.settings import Settings

_ensured: set[tuple[str, str]] = set()  # (bootstrap, prefix) done in this process


async def ensure_invoice_topics(settings: Settings) -> None:
    """The product's topics exist (once per process and prefix): commands that issue invoices may
    run before any worker created them."""
    marker = (settings.kafka_bootstrap, settings.topic_prefix)
    if marker not in _ensured:
        await ensure_topics(settings)
        _ensured.add(marker)
