"""The invoice commands as an operator runs them: JSON out, clear one-line errors, no tracebacks."""
from __future__ import annotations

import asyncio
import json

import click
import pytest
from click.testing import CliRunner

from devkit.worker_process import settings_env
from pipeline.invoices.cli import register
from pipeline.settings import REPO_ROOT
from tests.fixtures.invoices.seed import CALLS, seed

pytestmark = pytest.mark.clickhouse
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "invoices"


@pytest.fixture
def run(settings_factory):
    settings = settings_factory()
    asyncio.run(seed(settings, CALLS))  # the tests are sync: the commands run their own loop

    @click.group()
    def group():
        pass

    register(group)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(group, list(args), env=settings_env(settings))
        assert result.exit_code == code, (result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
        return result

    return invoke


def test_issue_prints_the_contracts_json_and_again_the_same(run):
    # the real clock: October 2026 is over (the suite runs after it)
    printed = json.loads(run("invoice", "issue", "u1", "--period", "2026-10").stdout)
    assert {"number", "issuer", "account", "period", "currency", "subtotal", "taxes", "total", "lines", "pdf"} <= set(printed)
    assert (printed["number"], printed["account"], printed["period"]) == ("R1-2026-000001", "u1", "2026-10")
    assert json.loads(run("invoice", "issue", "u1", "--period", "2026-10").stdout) == printed
    listed = run("invoice", "list", "--account", "u1").stdout.splitlines()
    assert len(listed) == 1 and listed[0].startswith("R1-2026-000001\tr1\tu1\t2026-10\t")


def test_issue_all_shows_progress_and_skips_empty_accounts(run, tmp_path):
    result = run("invoice", "issue", "--all", "--period", "2026-10", "--skip-empty", code=1)
    assert "issuers ['r2'] have no invoice details" in result.output  # r2 never set his
    details = json.loads((FIXTURES / "issuer_admin.json").read_text())
    (tmp_path / "r2.json").write_text(json.dumps({**details, "account": "r2", "number_prefix": "R2"}))
    assert "published invoice details of r2" in run("invoice", "issuer", "set", str(tmp_path / "r2.json")).output
    result = run("invoice", "issue", "--all", "--period", "2026-10", "--skip-empty")
    issued = json.loads(result.stdout)
    assert sorted(i["account"] for i in issued) == ["r1", "r2", "u1", "u2", "u9"]  # u3 had no calls
    assert "issuing 2026-10" in result.stderr  # the bar itself only draws on a terminal


def test_bad_input_gets_a_one_line_reason(run):
    assert "is not a month written YYYY-MM" in run("invoice", "issue", "u1", "--period", "2026/10", code=2).output
    assert "the month must be 01..12" in run("invoice", "issue", "u1", "--period", "2026-13", code=2).output
    assert "is in the future" in run("invoice", "issue", "u1", "--period", "2099-01", code=1).output
    assert "give either ACCOUNT or --all" in run("invoice", "issue", "--period", "2026-10", code=1).output
    assert "'nobody' is not a user or reseller" in run("invoice", "issue", "nobody", "--period", "2026-10", code=1).output
    bad = run("invoice", "issuer", "set", str(FIXTURES / "issuer_bad.json"), code=1).output
    assert "number_prefix" in bad and "timezone" in bad and "taxes.0.percent" in bad
    logo = run("invoice", "issuer", "logo", "r1", str(FIXTURES / "issuer_bad.json"), code=1).output
    assert "not accepted" in logo


def test_a_draft_of_the_running_month_is_not_numbered(run):
    draft = json.loads(run("invoice", "issue", "u1", "--period", "2099-01", "--draft").stdout)
    assert draft["number"] == "R1-DRAFT" and draft["draft"] is True and draft["total"] == "0.00"
    assert run("invoice", "list").stdout == ""
