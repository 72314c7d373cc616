from __future__ import annotations

from pipeline.adapters import AdapterError, kamailio_acc
from pipeline.adapters.kamailio import is_cdr_line
from pipeline.schemas.cdr import CdrIn


def _cdr_lines(fixture_lines) -> list[str]:
    return [line for line in fixture_lines("kamailio/acc.log") if is_cdr_line(line)]


def test_only_acc_lines_of_the_log_are_records(fixture_lines):
    assert len(_cdr_lines(fixture_lines)) == 3
    assert not is_cdr_line(b" 1(1) WARNING: <core> probing packet")


def test_answered_call_bills_from_the_answer_to_the_end_rounded_half_up(vilnius, fixture_lines):
    cdr = kamailio_acc(_cdr_lines(fixture_lines)[0], vilnius)
    assert not isinstance(cdr, AdapterError), cdr
    assert (cdr["call_id"], cdr["account"], cdr["src"], cdr["dst"]) == ("1-13853@127.0.0.1", "u1", "u1", "37060000001")
    assert cdr["start_time"] == "2026-11-27T11:00:33.586918+00:00"  # epoch is UTC whatever the local zone
    # answer 33.588433, end 35.095: 1.506567 s -> 2; start 33.586918 -> 1.508082 -> 2
    assert (cdr["billsec"], cdr["duration"], cdr["disposition"]) == (2, 2, "ANSWERED")
    assert cdr["switch_fields"]["to_tag"] == "13779SIPpTag011"
    assert cdr["switch_fields"]["src_ip"] == "127.0.0.1"


def test_busy_call_is_not_billed(vilnius, fixture_lines):
    cdr = kamailio_acc(_cdr_lines(fixture_lines)[1], vilnius)
    assert "answer_time" not in cdr
    assert (cdr["billsec"], cdr["duration"], cdr["disposition"]) == (0, 3, "BUSY")
    assert cdr["switch_fields"]["sip_reason"] == "Busy Here"
    assert not CdrIn.model_validate(cdr).answered


def test_call_ended_by_the_proxy_is_billed_to_its_end(vilnius, fixture_lines):
    cdr = kamailio_acc(_cdr_lines(fixture_lines)[2], vilnius)
    # answered 22.681562, ended 48.386: 25.704438 s
    assert cdr["billsec"] == 26


def test_half_second_rounds_up_and_just_below_rounds_down(vilnius):
    line = ("log_write_cdr(): start_time=100.000; end_time={end}; duration=0; callid=c; account=u1; "
            "dst=370; invite_ts=100.000000; answer_ts=100.000000; sip_code=200")
    assert kamailio_acc(line.format(end="110.500"), vilnius)["billsec"] == 11
    assert kamailio_acc(line.format(end="110.499"), vilnius)["billsec"] == 10


def test_missing_caller_and_bad_time_name_the_field(vilnius):
    base = "log_write_cdr(): start_time=100.0; end_time=110.0; callid=c; dst=370; invite_ts=100.0; sip_code=200"
    error = kamailio_acc(base + "; account=", vilnius)
    assert error.field == "account" and "no account, src_user ($fU) nor src_ip ($si)" in error.rule
    error = kamailio_acc(base.replace("end_time=110.0", "end_time=soon") + "; account=u1", vilnius)
    assert error.field == "end_time"
    assert kamailio_acc("hello", vilnius).field == "line"
    error = kamailio_acc(base.replace("callid=c; ", "") + "; account=u1", vilnius)
    assert error.field == "callid" and "add callid=$ci" in error.rule


def test_without_account_the_caller_is_named_by_from_user_and_source_ip(vilnius):
    line = ("log_write_cdr(): start_time=100.0; end_time=110.0; callid=c; dst_user=alice; src_user=1001; "
            "src_ip=192.0.2.10; invite_ts=100.0; answer_ts=101.0; sip_code=200")
    cdr = kamailio_acc(line, vilnius)
    assert cdr["account"] == "" and cdr["device"] == {"sip_user": "1001", "ip": "192.0.2.10"}
    assert (cdr["src"], cdr["dst"], cdr["billsec"]) == ("1001", "alice", 9)  # a name stays a name


def test_without_answer_time_an_answered_dialog_bills_acc_duration(vilnius):
    # a stock acc_cdrs record: start_time, end_time, duration and cdr_extra, no answer_ts
    line = "log_write_cdr(): start_time=1795777233.586; end_time=1795777245.095; duration=11.509; callid=c; " \
           "src_user=1001; dst_user=37060000001{code}"
    assert kamailio_acc(line.format(code="; sip_code=200"), vilnius)["billsec"] == 12
    assert kamailio_acc(line.format(code=""), vilnius)["billsec"] == 12  # no code: acc logs confirmed dialogs
    busy = kamailio_acc(line.format(code="; sip_code=486").replace("duration=11.509", "duration=0.000"), vilnius)
    assert (busy["billsec"], busy["disposition"]) == (0, "BUSY")
