"""Numbered SQL migrations (migrations/0001_name.sql), applied once each, in order.

A file holds one or more statements separated by `;` at the end of a line, with `{database}` for
the database name. Every statement must run on ClickHouse 18.16 (production) and on current
ClickHouse (tests/unit/sinks/test_migrations_dialect.py runs them through chdb). Statements use
IF NOT EXISTS, so a migration interrupted halfway can simply be applied again.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.settings import Settings
from pipeline.sinks.clickhouse import connect

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Execute = Callable[..., object]  # clickhouse_driver.Client.execute, or a stand-in


@dataclass(frozen=True)
class Migration:
    name: str  # file stem, e.g. "0001_rated_calls"
    statements: tuple[str, ...]  # with {database} still in place


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        if not _NAME.match(path.name):
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(path.stem, split_statements(path.read_text(encoding="utf-8"))))
    return migrations


def split_statements(sql: str) -> tuple[str, ...]:
    # whole-line comments go first, so that a `;` ending a comment line never splits a statement
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return tuple(chunk.strip() for chunk in re.split(r";[ \t]*(?:\n|$)", code) if chunk.strip())


def render(statement: str, database: str) -> str:
    # the database name comes from our own settings, yet it is spliced into DDL: refuse oddities
    if not _DATABASE_NAME.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    return statement.replace("{database}", database)


def schema_statements(database: str, only: str | None = None) -> list[str]:
    """The database and every migration's statements (or only the one named), in order, for a
    server that keeps no record of them (current ClickHouse in process: chdb, in tests and
    bench-api)."""
    statements = [render("CREATE DATABASE IF NOT EXISTS {database}", database)]
    for migration in load_migrations():
        if only is None or migration.name == only:
            statements += [render(statement, database) for statement in migration.statements]
    return statements


def apply_migrations(execute: Execute, database: str, migrations: list[Migration]) -> list[str]:
    """Create the database and apply the migrations not yet recorded; returns the names applied."""
    execute(render("CREATE DATABASE IF NOT EXISTS {database}", database))
    execute(render(
        "CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(name String, applied_at DateTime('UTC')) ENGINE = MergeTree ORDER BY name",
        database,
    ))
    done = {row[0] for row in execute(render("SELECT name FROM {database}.schema_migrations", database))}
    applied = []
    for migration in migrations:
        if migration.name in done:
            continue
        log.info("applying migration %s to %s", migration.name, database)
        for statement in migration.statements:
            execute(render(statement, database))
        # recorded only after every statement ran: a failure leaves it to be applied again
        execute(
            render("INSERT INTO {database}.schema_migrations (name, applied_at) VALUES", database),
            [(migration.name, _now())],
        )
        applied.append(migration.name)
    return applied


def migrate(settings: Settings) -> list[str]:
    client = connect(settings, database="default")  # ours may not exist yet
    try:
        return apply_migrations(client.execute, settings.clickhouse_database, load_migrations())
    finally:
        client.disconnect()


def _now():
    return datetime.now(timezone.utc)
