from __future__ import annotations

from pipeline.adapters import AdapterError, asterisk_csv, asterisk_json
from pipeline.schemas.cdr import CdrIn


def test_master_csv_answered_call_maps_every_contract_field(vilnius, fixture_lines):
    cdr = asterisk_csv(fixture_lines("asterisk/Master.csv")[0], vilnius)
    assert not isinstance(cdr, AdapterError), cdr
    assert cdr["call_id"] == "1795953600.1"
    assert cdr["server_id"] == "sw1"
    assert cdr["account"] == "u1"
    assert (cdr["src"], cdr["dst"]) == ("37052000001", "37060000001")
    # local Vilnius time, UTC+2 in November
    assert cdr["start_time"] == "2026-11-25T12:00:00+02:00"
    assert CdrIn.model_validate(cdr).start_time.isoformat() == "2026-11-25T10:00:00+00:00"
    assert cdr["answer_time"] == "2026-11-25T12:00:05+02:00"
    assert cdr["end_time"] == "2026-11-25T12:01:05+02:00"
    assert (cdr["duration"], cdr["billsec"], cdr["disposition"]) == (65, 60, "ANSWERED")
    assert cdr["adapter"] == "asterisk_csv"
    assert cdr["switch_fields"]["clid"] == '"Alice" <37052000001>'  # CSV doubled quotes undone
    assert cdr["switch_fields"]["lastdata"] == "SIP/provider/37060000001,60"
    assert "accountcode" not in cdr["switch_fields"]


def test_master_csv_unanswered_and_busy_calls_have_no_answer_time(vilnius, fixture_lines):
    no_answer, busy = (asterisk_csv(line, vilnius) for line in fixture_lines("asterisk/Master.csv")[1:3])
    assert "answer_time" not in no_answer and no_answer["billsec"] == 0
    assert no_answer["disposition"] == "NO ANSWER"
    assert no_answer["switch_fields"]["userfield"] == "no answer"
    assert busy["disposition"] == "BUSY" and busy["account"] == "u2"


def test_master_csv_with_newcdrcolumns_keeps_linkedid_and_sequence(vilnius, fixture_lines):
    cdr = asterisk_csv(fixture_lines("asterisk/Master.csv")[3], vilnius)
    assert cdr["billsec"] == 120
    assert cdr["switch_fields"]["linkedid"] == "1795954200.7"
    assert cdr["switch_fields"]["peeraccount"] == "provider"
    assert cdr["switch_fields"]["sequence"] == "12"


def test_bad_master_csv_lines_name_the_field_and_rule(vilnius, fixture_lines):
    errors = [asterisk_csv(line, vilnius) for line in fixture_lines("asterisk/bad.csv")]
    assert all(isinstance(error, AdapterError) for error in errors), errors
    assert errors[0].field == "line" and "15 columns" in errors[0].rule and "--columns" in errors[0].rule
    assert errors[1].field == "accountcode" and "'DAHDI/1-1' names no SIP, PJSIP or IAX2 peer" in errors[1].rule
    assert errors[2].field == "billsec" and ">= 0" in errors[2].rule
    assert errors[3].field == "start" and "25/11/2026 12:00" in errors[3].rule
    assert (errors[4].field, errors[4].rule) == ("billsec", "70 s is longer than the call's duration 65 s")
    # 03:30 on 2026-03-29 never happened in Vilnius: the clocks went from 03:00 to 04:00
    assert errors[5].field == "start" and "does not exist in Europe/Vilnius" in errors[5].rule
    # a cdr_custom row (clid first) is not taken for cdr_csv's layout: it needs --columns
    assert errors[6].field == "line" and "'DOCUMENTATION', not a disposition" in errors[6].rule


def test_master_csv_cdrs_carry_their_sequence_as_segment_and_the_caller_as_device(vilnius, fixture_lines):
    cdrs = [asterisk_csv(line, vilnius) for line in fixture_lines("asterisk/Master.csv")]
    assert cdrs[3]["segment"] == "12"  # newcdrcolumns: Asterisk's own sequence
    assert cdrs[3]["device"] == {"sip_user": "u2", "accountcode": "u2"}  # PJSIP/u2-00000007
    # without a sequence column: a stable digest of dstchannel, answer and start
    again = asterisk_csv(fixture_lines("asterisk/Master.csv")[0], vilnius)
    assert cdrs[0]["segment"].startswith("d") and cdrs[0]["segment"] == again["segment"]
    assert cdrs[0]["segment"] != cdrs[1]["segment"]


def test_json_cdr_matches_the_csv_of_the_same_call(vilnius, fixture_lines):
    from_json = asterisk_json(fixture_lines("asterisk/cdrs.jsonl")[0], vilnius)
    from_csv = asterisk_csv(fixture_lines("asterisk/Master.csv")[0], vilnius)
    contract = ("call_id", "account", "dst", "start_time", "answer_time", "end_time", "billsec", "disposition")
    assert {k: from_json[k] for k in contract} == {k: from_csv[k] for k in contract}
    assert from_json["switch_fields"]["sequence"] == 1


def test_json_cdr_times_with_offset_ignore_the_local_zone_and_numbers_may_be_text(vilnius, fixture_lines):
    cdr = asterisk_json(fixture_lines("asterisk/cdrs.jsonl")[1], vilnius)
    assert CdrIn.model_validate(cdr).start_time.isoformat() == "2026-11-25T10:06:00+00:00"
    assert (cdr["duration"], cdr["billsec"]) == (3, 0)


def test_json_that_is_not_an_object_is_an_error(vilnius):
    assert asterisk_json(b"[1, 2]", vilnius) == AdapterError("record", "must be a JSON object (got list)")
    assert asterisk_json(b"{nope", vilnius).field == "record"


def test_json_with_boolean_billsec_is_an_error_not_one_second(vilnius):
    error = asterisk_json({"uniqueid": "1.1", "accountcode": "u1", "dst": "370", "start": 1795953600,
                           "billsec": True}, vilnius)
    assert error == AdapterError("billsec", "must be a whole number of seconds, not a boolean")
