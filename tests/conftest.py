"""Test layers: unit (pure), agents (Faust test_context), integration (real local Kafka + ClickHouse).

A test that opens a ClickHouse client must be marked `clickhouse` (STYLE.md, after snuba): an
unmarked one fails loudly instead of quietly depending on a server.
"""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clickhouse_needs_marker(request, monkeypatch):
    if request.node.get_closest_marker("clickhouse") or request.node.get_closest_marker("integration"):
        return
    import clickhouse_driver

    def refuse(*args, **kwargs):
        raise AssertionError(
            f"{request.node.nodeid} opens a ClickHouse client but is not marked "
            "@pytest.mark.clickhouse (or integration)"
        )

    monkeypatch.setattr(clickhouse_driver.Client, "__init__", refuse)
