"""What the metrics expose, for the tests that check the dashboard and the registry against it."""
from __future__ import annotations

from pipeline.observability.metrics import SPECS


def exposed_series() -> dict[str, frozenset[str]]:
    """Every series a dashboard may chart -> its labels (prometheus_client's `_created` series
    left out); the dashboard is checked against this, so the two cannot drift."""
    return {name: labels for spec in SPECS for name, labels in spec.series().items()}
