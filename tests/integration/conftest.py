"""Session fixtures for tests on the real local broker and ClickHouse (deploy/local/up).

Each session gets a fresh topic prefix and its own ClickHouse database, so runs never collide.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter):
    """The table of test_faults.py (what was killed, when, what was checked), also written to
    tests/artifacts/faults-report.md; printed on success too."""
    chaos_kit = sys.modules.get("tests.integration.chaos_kit")
    if chaos_kit is not None and chaos_kit.FAULT_ROWS:
        terminalreporter.write_sep("=", f"faults under load (also in {chaos_kit.REPORT_PATH.name})")
        for line in chaos_kit.write_report():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def local_stack() -> None:
    """Brings the local stack up (a no-op when it already runs); CI runs `up` itself first."""
    subprocess.run([str(REPO_ROOT / "deploy" / "local" / "up")], check=True)


@pytest.fixture(scope="session")
def session_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def settings_factory(local_stack, session_prefix, tmp_path_factory):
    """Settings for one test: its own topic prefix and ClickHouse database."""
    made = []

    def make(**overrides) -> Settings:
        name = f"{session_prefix}{uuid.uuid4().hex[:6]}-"
        base = Settings()
        database = "rating_" + name.replace("-", "_").rstrip("_")
        url = base.clickhouse_url.rsplit("/", 1)[0] + "/" + database
        values = {
            "topic_prefix": name,
            "clickhouse_url": url,
            "partitions": 4,
            "local_dir": tmp_path_factory.mktemp("local"),
            "metrics_port": 0,  # several workers at once: each its own free port
            # tests replay calls of fixed dates: a window that today's date cannot overtake
            # (tests of the window itself set their own)
            "dedup_days": 36500,
        }
        values.update(overrides)
        settings = Settings(**values)
        made.append(settings)
        return settings

    yield make
    from devkit.scratch import delete_topics_with_prefix
    from pipeline.sinks.clickhouse import connect

    for settings in made:  # each test's own database and topics go with it
        if settings.clickhouse_database.startswith("rating_t"):
            connect(settings, database="default").execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        if settings.topic_prefix.startswith(session_prefix):
            # a broker holds as many partitions as its open-files limit allows (20000 here)
            asyncio.run(delete_topics_with_prefix(settings))

