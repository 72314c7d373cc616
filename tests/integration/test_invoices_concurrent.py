"""Two processes issuing for the same issuer at once get consecutive numbers: no gap, no duplicate."""
from __future__ import annotations

import subprocess
import sys

import pytest

from devkit.worker_process import settings_env
from pipeline.invoices.ledger import read_invoices
from pipeline.settings import REPO_ROOT
from tests.fixtures.invoices.seed import seed

pytestmark = pytest.mark.clickhouse
SCRIPT = REPO_ROOT / "tests" / "fixtures" / "invoices" / "issue_accounts.py"
USERS = [f"c{n:02d}" for n in range(12)]


def start(settings, accounts: list[str]) -> subprocess.Popen:
    env = {**settings_env(settings), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, str(SCRIPT), "2026-10", "2026-11-05T09:00:00+00:00", *accounts],
                            env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> dict[str, str]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return dict(line.split() for line in out.splitlines())


async def test_two_processes_issuing_the_same_and_different_accounts_number_without_gaps(settings_factory):
    settings = settings_factory()
    accounts = [{"kind": "account", "id": "r1", "type": "reseller", "name": "Reseller One Srl"}]
    accounts += [{"kind": "account", "id": u, "type": "user", "parent": "r1"} for u in USERS]
    await seed(settings, accounts=accounts)
    # the first process issues every user forwards, the second the first eight backwards: they
    # race for the same accounts and for the issuer's next number
    first, second = start(settings, USERS), start(settings, USERS[7::-1])
    numbers_first, numbers_second = finish(first), finish(second)

    stored = [i for i in await read_invoices(settings) if i.issuer == "r1"]
    assert sorted(i.sequence for i in stored) == list(range(1, len(USERS) + 1))  # no gap, no duplicate
    assert sorted(i.account for i in stored) == USERS  # one invoice per account
    by_account = {i.account: i.number for i in stored}
    assert numbers_first == by_account  # each process printed the invoice that was stored
    assert numbers_second == {u: by_account[u] for u in USERS[:8]}
