"""Every SQL statement an analyst copies from docs/analytics.md runs on current ClickHouse (chdb);
tests/integration/test_clickhouse_reports.py runs them on 18.16."""
from __future__ import annotations

import pytest

from pipeline.sinks.migrate import load_migrations, render
from tests.unit.reports.docs_sql import doc_statements
from tests.unit.reports.report_seed import REDELIVERED, ROWS
from tests.unit.sinks.rated_example import literal_insert

chdb_session = pytest.importorskip("chdb.session")


def test_every_documented_statement_runs(tmp_path):
    session = chdb_session.Session(str(tmp_path))
    try:
        session.query("CREATE DATABASE IF NOT EXISTS docs")
        for migration in load_migrations():
            for statement in migration.statements:
                session.query(render(statement, "docs"))
        session.query(literal_insert("docs", ROWS + REDELIVERED))
        statements = doc_statements("docs")
        assert len(statements) >= 8
        for statement in statements:
            session.query(statement)  # raises on a dialect or name error
    finally:
        session.close()
