"""Every SQL statement an analyst copies from docs/analytics.md runs on current ClickHouse (chdb);
tests/integration/test_clickhouse_reports.py runs them on 18.16."""
from __future__ import annotations

import pytest

from tests.unit.chdb_kit import migrated_session
from tests.unit.reports.docs_sql import doc_statements
from tests.unit.reports.report_seed import REDELIVERED, ROWS
from tests.unit.sinks.rated_example import literal_insert

pytest.importorskip("chdb.session")


def test_every_documented_statement_runs(tmp_path):
    session = migrated_session(tmp_path, "docs")
    try:
        session.query(literal_insert("docs", ROWS + REDELIVERED))
        statements = doc_statements("docs")
        assert len(statements) >= 8
        for statement in statements:
            session.query(statement)  # raises on a dialect or name error
    finally:
        session.close()
