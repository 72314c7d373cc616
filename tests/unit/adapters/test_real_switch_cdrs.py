"""Records real switches wrote (tests/fixtures/switch_cdrs/real/SOURCES.md says where each comes
from): every one becomes a CDR or a rejection with its reason, and which one is stated here, record
by record. The adapters run as the runner runs them (a stream over the file), without a broker."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.adapters import ADAPTERS, AdapterError, Skipped, SwitchContext
from pipeline.cdr.process import Source
from pipeline.schemas.cdr import CdrIn

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "switch_cdrs" / "real"
CUSTOM_COLUMNS = ("clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer",
                  "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield",
                  "sequence")
CGRATES_FLATSTORE = ("method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time", "cgr_reqtype",
                     "account", "dst_user")
NO_DEVICE = "no account and no device to find it by: accountcode is empty and channel '{}' names no SIP, PJSIP or " \
            "IAX2 peer (set the channel's accountcode, or call from a SIP device)"


def run(adapter: str, paths: list[Path], context: SwitchContext, per_file: bool = False):
    """Every result in order, and what the stream still holds (as `run_spool` would leave it)."""
    chosen = ADAPTERS[adapter]
    stream = chosen.stream(context)
    results = []
    for path in paths:
        records = [(0, path.read_bytes().strip())] if per_file else _lines(path.read_bytes())
        for offset, payload in records:
            if chosen.is_record(payload):
                results += [item.result for item in stream.feed(payload, Source(f"file:{path}", 0, offset))]
    return results, stream.open_calls()


def _lines(data: bytes):
    offset = 0
    for line in data.splitlines(keepends=True):
        yield offset, line.rstrip(b"\r\n")
        offset += len(line)


def _cdr(result) -> dict:
    assert isinstance(result, dict), result
    CdrIn.model_validate(result)  # what the pipeline will read
    return result


# ---- Asterisk -------------------------------------------------------------------------------

# line -> (uniqueid, sequence, peer, billsec, disposition), or the channel of a rejected Local half
STADION = {
    1: ("1706368044.0", "0", "211474", 27, "ANSWERED"),
    2: ("1706369278.2", "1", "211474", 27, "ANSWERED"),
    3: ("1706369476.4", "2", "211474", 10, "ANSWERED"),
    # one call (uniqueid ...600.6) in three records: Dial to SIP/301, to stadionpbx, then Hangup
    4: ("1706369600.6", "3", "211553", 60, "NO ANSWER"),
    5: ("1706369600.6", "6", "211553", 30, "NO ANSWER"),
    6: ("1706369600.6", "7", "211553", 0, "ANSWERED"),
    7: "Local/ch1@TimeDelay-00000000;2",
    8: "Local/ch2@TimeDelay-00000001;2",
    9: ("1706372196.12", "8", "211553", 0, "NO ANSWER"),
    10: ("1706372196.12", "15", "211553", 0, "NO ANSWER"),
    11: ("1706372196.12", "16", "211553", 0, "NO ANSWER"),
    12: "Local/ch3@TimeDelay-00000002;2",
    13: "Local/ch3@TimeDelay-00000002;2",
    14: "Local/ch1@TimeDelay-00000003;2",
    15: ("1706401101.30", "24", "211553", 0, "NO ANSWER"),
    16: ("1706401101.30", "31", "211553", 0, "NO ANSWER"),
    17: ("1706401101.30", "32", "211553", 0, "NO ANSWER"),
    18: "Local/ch2@TimeDelay-00000004;2",
    19: "Local/ch3@TimeDelay-00000005;2",
    20: "Local/ch3@TimeDelay-00000005;2",
    21: ("1706404398.48", "39", "211474", 10, "ANSWERED"),
    22: ("1706415046.98", "79", "211553", 0, "NO ANSWER"),  # the caller's name is not UTF-8
    23: ("1706415046.98", "82", "211553", 30, "ANSWERED"),
}


def test_a_production_master_csv_without_accountcode_converts_by_device_record_by_record():
    results, _ = run("asterisk_csv", [REAL / "asterisk" / "stadion-Master.csv"], SwitchContext("ast1", ZoneInfo("UTC")))
    assert len(results) == len(STADION) == 23
    for line, expected in STADION.items():
        result = results[line - 1]
        if isinstance(expected, str):
            assert result == AdapterError("accountcode", NO_DEVICE.format(expected)), (line, result)
            continue
        uniqueid, sequence, peer, billsec, disposition = expected
        cdr = _cdr(result)
        assert (cdr["call_id"], cdr["segment"], cdr["device"], cdr["billsec"], cdr["disposition"]) == \
            (uniqueid, sequence, {"sip_user": peer}, billsec, disposition), line
        assert cdr["account"] == "" and cdr["dst"] in ("211474", "211553")
        # the box wrote UTC: each record starts at its uniqueid's second
        assert datetime.fromisoformat(cdr["start_time"]).timestamp() >= int(uniqueid.split(".")[0])
    assert "text_repaired" in results[21]["switch_fields"] and "\ufffd" in results[21]["switch_fields"]["clid"]
    converted = sum(isinstance(result, dict) for result in results)
    assert (converted, len(results) - converted) == (15, 8)


def test_segments_tell_the_records_of_one_call_apart_and_repeat_on_a_second_read():
    context = SwitchContext("ast1", ZoneInfo("UTC"))
    first, _ = run("asterisk_csv", [REAL / "asterisk" / "stadion-Master.csv"], context)
    again, _ = run("asterisk_csv", [REAL / "asterisk" / "stadion-Master.csv"], context)
    keys = [CdrIn.model_validate(cdr).call_key for cdr in first if isinstance(cdr, dict)]
    assert keys == [CdrIn.model_validate(cdr).call_key for cdr in again if isinstance(cdr, dict)]
    assert len(set(keys)) == len(keys) == 15
    assert {key for key in keys if "/1706369600.6/" in key} == {"ast1/1706369600.6/3", "ast1/1706369600.6/6",
                                                                "ast1/1706369600.6/7"}


def test_a_cdr_custom_file_needs_its_columns_and_then_converts_every_row():
    path = REAL / "asterisk" / "cdr_custom-Master.csv"
    unnamed, _ = run("asterisk_csv", [path], SwitchContext("ast1", ZoneInfo("Indian/Antananarivo")))
    assert len(unnamed) == 14 and all(isinstance(result, AdapterError) and "--columns" in result.rule
                                      for result in unnamed)
    results, _ = run("asterisk_csv", [path], SwitchContext("ast1", ZoneInfo("Indian/Antananarivo"),
                                                            columns=CUSTOM_COLUMNS))
    cdrs = [_cdr(result) for result in results]
    assert len(cdrs) == 14
    assert [cdr["billsec"] for cdr in cdrs] == [13, 0, 13, 18, 0, 8, 8, 7, 3, 0, 2, 2, 2, 2]
    assert {cdr["device"]["sip_user"] for cdr in cdrs} == {"client1", "client2"}
    # the box was on UTC+3 (Madagascar): read in that zone, each start is its uniqueid's epoch
    assert all(datetime.fromisoformat(cdr["start_time"]).timestamp() == int(cdr["call_id"].split(".")[0])
               for cdr in cdrs)


# ---- FreeSWITCH -----------------------------------------------------------------------------

FREESWITCH = {
    "c8ccef5e-34c2-4fd2-9a2e-fa6f295f3a1e": ("1001", {"sip_user": "1001", "accountcode": "1001",
                                                      "ip": "192.168.56.1"}, "1002", 21, 24),
    "01df56f4-d99a-4ef6-b7fe-b924b2415b7f": ("", {"sip_user": "dan", "ip": "2.3.4.5"}, "+4986517174963", 4, 6),
    "e3133bf7-dcde-4daf-9663-9a79ffcef5ad": ("1001", {"sip_user": "1001", "accountcode": "1001", "ip": "127.0.0.1"},
                                             "1003", 66, 66),
    "3da8bf84-c133-4959-9e24-e72875cb33a1": ("", {"sip_user": "1001", "ip": "10.10.10.100"}, "1002", 68, 71),
}


@pytest.mark.parametrize("uuid", sorted(FREESWITCH))
def test_captured_freeswitch_a_legs_convert_with_account_or_device(uuid):
    results, _ = run("freeswitch", [REAL / "freeswitch" / f"{uuid}.cdr.json"], SwitchContext("fs1"), per_file=True)
    cdr = _cdr(results[0])
    account, device, dst, billsec, duration = FREESWITCH[uuid]
    assert (cdr["call_id"], cdr["account"], cdr["device"], cdr["dst"], cdr["billsec"], cdr["duration"]) == \
        (uuid, account, device, dst, billsec, duration)
    assert cdr["disposition"] == "ANSWERED"


def test_a_cut_freeswitch_record_is_rejected_naming_what_is_missing():
    results, _ = run("freeswitch", [REAL / "freeswitch" / "86cfd6e2-dbda-45a3-b59d-f683ec368e8b.cdr.json"],
                     SwitchContext("fs1"), per_file=True)
    assert results == [AdapterError("variables.billsec", "missing or empty")]


# ---- Kamailio -------------------------------------------------------------------------------

def test_the_tutorial_syslog_lines_make_one_call_to_a_sip_user_that_is_a_name():
    results, open_calls = run("kamailio", [REAL / "kamailio" / "book-syslog.log"], SwitchContext("kam1"))
    assert open_calls == 0 and len(results) == 1
    cdr = _cdr(results[0])
    assert (cdr["call_id"], cdr["billsec"], cdr["dst"]) == ("vRtGVfXTzMK.AwgiT2F3JCxv3OR2tWtI", 8, "carol")
    assert cdr["device"] == {"sip_user": "alice", "ip": "192.168.178.46"}
    assert cdr["start_time"] == "2013-07-22T11:49:57+00:00"


def test_cgrates_flatstore_acc_and_missed_calls_files():
    context = SwitchContext("kam1", columns=CGRATES_FLATSTORE)
    flat = REAL / "kamailio" / "flatstore"
    results, open_calls = run("kamailio_flatstore", [flat / "acc_1.log", flat / "missed_calls_1.log"], context)
    cdrs = [_cdr(result) for result in results]
    assert open_calls == 0
    assert [(cdr["call_id"][:8], cdr["account"], cdr["dst"], cdr["billsec"], cdr["disposition"], cdr.get("segment"))
            for cdr in cdrs] == [
        ("dd0c4c61", "1001", "1002", 2, "ANSWERED", None),
        ("214d8f52", "1002", "1001", 4, "ANSWERED", None),
        ("3a63321d", "1001", "1002", 4, "ANSWERED", None),
        ("a58ebaae", "1001", "1002", 2, "ANSWERED", None),
        ("0bfdd176", "1001", "1002", 0, "NO ANSWER", "failed-487-1436454643"),
        ("81880da8", "1001", "1002", 0, "FAILED", "failed-404-1436454668"),
        ("8deaadf2", "1002", "1001", 0, "BUSY", "failed-486-1436454687"),
    ]


def test_cgrates_flatstore_bye_read_before_its_invite_and_an_invite_still_open():
    context = SwitchContext("kam1", columns=CGRATES_FLATSTORE)
    split = REAL / "kamailio" / "flatstore-split"
    results, open_calls = run("kamailio_flatstore", [split / "acc_1.log", split / "acc_2.log"], context)
    assert [(_cdr(cdr)["call_id"][:8], cdr["dst"], cdr["billsec"]) for cdr in results] == [("214d8f52", "1003", 4)]
    assert open_calls == 1  # the second INVITE's BYE is not in these files: held, not dropped


def test_cgrates_flatstore_timed_by_ack_with_an_extra_column():
    context = SwitchContext("kam1", columns=CGRATES_FLATSTORE)
    results, open_calls = run("kamailio_flatstore", [REAL / "kamailio" / "flatstore-ack" / "acc_1.log"], context)
    assert open_calls == 0
    assert [(_cdr(cdr)["billsec"], cdr["start_time"]) for cdr in results] == [
        (2, "2015-07-09T15:06:48+00:00"), (4, "2015-07-09T15:10:47+00:00"), (4, "2015-07-09T15:10:57+00:00"),
        (2, "2015-07-09T15:11:30+00:00")]
    assert results[0]["switch_fields"]["acc_records"]["ack"]["method"] == "ACK"


def test_stock_kamailio_lines_captured_here():
    path = REAL / "kamailio" / "kamailio-5.6.3-syslog.log"
    results, open_calls = run("kamailio", [path], SwitchContext("kam1"))
    cdrs = [_cdr(result) for result in results if not isinstance(result, Skipped)]
    assert open_calls == 0 and len(cdrs) == 2
    answered, busy = sorted(cdrs, key=lambda cdr: cdr["billsec"], reverse=True)
    assert (answered["disposition"], answered["billsec"], answered["dst"]) == ("ANSWERED", 2, "37060000001")
    assert answered["device"]["sip_user"] == "u7" and answered["device"]["ip"] == "127.0.0.1"
    assert (busy["disposition"], busy["billsec"], busy["segment"].startswith("failed-486-")) == ("BUSY", 0, True)
