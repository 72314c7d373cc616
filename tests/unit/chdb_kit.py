"""Current ClickHouse in process (chdb), as the unit tests use it to check our SQL's dialect and
numbers; the same statements run on the local 18.16 server in tests/integration."""
from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_driver.util.escape import escape_params

from pipeline.sinks.migrate import schema_statements


def migrated_session(path: Path, database: str, only: str | None = None):
    """A chdb session with `database` and the schema's migrations (only the one named `only`)."""
    chdb_session = pytest.importorskip("chdb.session")
    session = chdb_session.Session(str(path))
    for statement in schema_statements(database, only):
        session.query(statement)  # raises on any dialect error
    return session


def rows_of(session, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in str(session.query(sql, "TSV")).splitlines()]


def run(session, query) -> list[list[str]]:
    """A Query (sql, params) as clickhouse-driver would send it."""
    return rows_of(session, query.sql % escape_params(query.params, None))
