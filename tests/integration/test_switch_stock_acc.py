"""A real Kamailio with its default accounting (one syslog record per SIP transaction, no dialog
CDRs: tests/fixtures/switch_cdrs/kamailio/stock-acc.cfg) and SIPp calls through it; the `kamailio`
adapter, run as an operator runs it, pairs each answered INVITE with its BYE into a CDR on the
real broker's cdr.raw, keyed like the calls it makes.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from devkit.local_switch import DST, Switch
from pipeline.kafka.topic_io import read_all
from pipeline.kafka.topics import CDR_RAW, CDR_REJECTED
from pipeline.schemas.cdr import CdrIn
from pipeline.settings import REPO_ROOT

MISSING = [name for name in ("kamailio", "sipp") if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"{' and '.join(MISSING)} not installed (Debian: apt-get install kamailio sip-tester)")

STOCK_CFG = REPO_ROOT / "tests" / "fixtures" / "switch_cdrs" / "kamailio" / "stock-acc.cfg"
BUSY = "37069999999"  # stock-acc.cfg answers this number 486 Busy Here itself
SERVER = "kamailio-stock"


@pytest.fixture
def stock_switch(settings_factory):
    switch = Switch(settings_factory(), SERVER, config=STOCK_CFG)
    try:
        switch.start_kamailio()
        switch.start_upstream()
        yield switch
    finally:
        switch.stop()


def _adapter_once(switch: Switch) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.adapters", "adapter", "kamailio", "--from-file", str(switch.log),
         "--state", str(switch.dir / "stock-state.json"), "--server", SERVER, "--once"],
        env=switch.env, capture_output=True, text=True, timeout=120)


async def test_stock_transaction_lines_become_cdrs_on_the_broker(stock_switch):
    answered = stock_switch.call("uac.xml", "u7", "-d", "2000")
    assert answered.returncode == 0, answered.stdout[-2000:] + stock_switch.logs()
    busy = stock_switch.call("uac_refused_any.xml", "u7", dst=BUSY)
    assert busy.returncode == 0, busy.stdout[-2000:] + stock_switch.logs()
    # the answered INVITE, its BYE and the busy INVITE: three transaction records, no dialog CDR
    stock_switch.wait_logged("ACC: ", 3)
    log = stock_switch.log.read_text()
    assert "log_write_cdr" not in log and log.count("method=INVITE") == 2 and log.count("method=BYE") == 1

    first = _adapter_once(stock_switch)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "kamailio: 2 CDR(s) to cdr.raw, 0 rejected" in first.stdout, first.stdout

    messages = await read_all(stock_switch.settings, CDR_RAW)
    cdrs = {message.key.decode(): orjson.loads(message.value) for message in messages}
    assert not await read_all(stock_switch.settings, CDR_REJECTED)
    call, failed = sorted(cdrs.values(), key=lambda cdr: cdr["billsec"], reverse=True)
    # SIPp talks 2 s after the answer; acc stamps whole seconds (2 or 3), a loaded machine may add one
    assert call["disposition"] == "ANSWERED" and 2 <= call["billsec"] <= 4, cdrs
    assert call["dst"] == DST and call["account"] == ""
    assert call["device"] == {"sip_user": "u7", "ip": "127.0.0.1"}
    assert (failed["disposition"], failed["billsec"], failed["dst"]) == ("BUSY", 0, BUSY)
    for key, cdr in cdrs.items():
        assert key == CdrIn.model_validate(cdr).call_key  # the key the pipeline charges the call under
        assert cdr["server_id"] == SERVER and cdr["adapter"] == "kamailio"
    assert next(iter(k for k, cdr in cdrs.items() if cdr is failed)).startswith(f"{SERVER}/")

    # a second run finds its position (and nothing held): no record sent twice
    second = _adapter_once(stock_switch)
    assert "kamailio: 0 CDR(s) to cdr.raw, 0 rejected" in second.stdout, second.stdout
    assert len(await read_all(stock_switch.settings, CDR_RAW)) == 2


async def test_an_invite_held_across_a_restart_pairs_with_a_bye_written_later(stock_switch):
    """The adapter stops while a call is up: its INVITE stays in the state file, and the next run
    pairs it with the BYE Kamailio writes after."""
    held = stock_switch.start_call("uac.xml", "u8", "-d", "15000")  # talks 15 s: the adapter runs meanwhile
    try:
        stock_switch.wait_logged("method=INVITE", 1)
        first = _adapter_once(stock_switch)
        assert "0 CDR(s) to cdr.raw" in first.stdout and "1 record(s) held" in first.stdout, first.stdout
    finally:
        held.wait(timeout=60)
    stock_switch.wait_logged("method=BYE", 1)
    second = _adapter_once(stock_switch)
    assert "kamailio: 1 CDR(s) to cdr.raw, 0 rejected" in second.stdout, second.stdout
    [message] = await read_all(stock_switch.settings, CDR_RAW)
    assert orjson.loads(message.value)["device"]["sip_user"] == "u8"
