from __future__ import annotations

import json

from pipeline.adapters import AdapterError, Skipped, freeswitch_json
from pipeline.schemas.cdr import CdrIn


def _doc(fixtures_dir, suffix: str) -> dict:
    return json.loads((fixtures_dir / "freeswitch" / f"a_3f0d8c1e-6b1f-4c9e-8f6b-0a1b2c3d4e{suffix}.cdr.json").read_text())


def test_answered_call_takes_epochs_and_url_decodes_variables(vilnius, fixtures_dir):
    cdr = freeswitch_json(json.dumps(_doc(fixtures_dir, "01")), vilnius)
    assert not isinstance(cdr, AdapterError), cdr
    assert cdr["call_id"] == "3f0d8c1e-6b1f-4c9e-8f6b-0a1b2c3d4e01"
    assert (cdr["account"], cdr["src"], cdr["dst"]) == ("u1", "37052000001", "37060000001")
    assert cdr["start_time"] == "2026-11-25T10:00:00+00:00"
    assert cdr["answer_time"] == "2026-11-25T10:00:05+00:00"
    assert (cdr["duration"], cdr["billsec"], cdr["disposition"]) == (65, 60, "ANSWERED")
    variables = cdr["switch_fields"]["variables"]
    assert variables["sip_call_id"] == "3f0d8c1e@192.0.2.10"  # was %40
    assert "uuid" not in variables and "billsec" not in variables
    assert cdr["switch_fields"]["switchname"] == "fs1"


def test_stamps_without_epochs_are_read_in_the_switch_time_zone(vilnius, fixtures_dir):
    cdr = freeswitch_json(_doc(fixtures_dir, "02"), vilnius)
    assert CdrIn.model_validate(cdr).start_time.isoformat() == "2026-11-25T10:10:00+00:00"
    assert cdr["billsec"] == 120


def test_busy_call_maps_hangup_cause_and_has_no_answer(vilnius, fixtures_dir):
    cdr = freeswitch_json(_doc(fixtures_dir, "03"), vilnius)
    assert cdr["disposition"] == "BUSY"
    assert "answer_time" not in cdr  # answer_epoch 0


def test_answered_with_any_cause_is_answered_and_unknown_cause_failed(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    doc["variables"]["hangup_cause"] = "MEDIA_TIMEOUT"
    assert freeswitch_json(doc, vilnius)["disposition"] == "ANSWERED"
    doc["variables"].update(billsec="0", hangup_cause="CALL_REJECTED")
    assert freeswitch_json(doc, vilnius)["disposition"] == "FAILED"


def test_destination_falls_back_to_the_caller_profile(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    del doc["variables"]["destination_number"], doc["variables"]["caller_id_number"]
    cdr = freeswitch_json(doc, vilnius)
    assert (cdr["dst"], cdr["src"]) == ("37060000001", "37052000001")
    doc["callflow"] = {"caller_profile": {"destination_number": "4930"}}  # old FreeSWITCH: an object
    assert freeswitch_json(doc, vilnius)["dst"] == "4930"


def test_without_accountcode_the_caller_is_named_by_his_device(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    del doc["variables"]["accountcode"]
    doc["variables"].update(sip_from_user="1001", sip_network_ip="192.0.2.10")
    cdr = freeswitch_json(doc, vilnius)
    assert cdr["account"] == "" and cdr["device"] == {"sip_user": "1001", "ip": "192.0.2.10"}
    assert CdrIn.model_validate(cdr).account == ""  # the rate stage finds it through the device
    del doc["variables"]["sip_from_user"], doc["variables"]["sip_network_ip"]
    doc["callflow"][0]["caller_profile"].update(username="1002", network_addr="192.0.2.11")
    assert freeswitch_json(doc, vilnius)["device"] == {"sip_user": "1002", "ip": "192.0.2.11"}


def test_missing_caller_or_variables_name_the_field(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    del doc["variables"]["accountcode"], doc["variables"]["sip_from_user"]
    doc["callflow"] = []
    error = freeswitch_json(doc, vilnius)
    assert error.field == "variables.accountcode" and "no account and no device" in error.rule
    assert freeswitch_json({"callflow": []}, vilnius).field == "variables"
    doc = _doc(fixtures_dir, "01")
    doc["variables"]["billsec"] = "70"
    assert freeswitch_json(doc, vilnius) == AdapterError(
        "variables.billsec", "70 s is longer than the call's variables.duration 65 s")


def test_a_destination_that_is_not_a_number_is_kept_as_dialled(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    doc["variables"]["destination_number"] = "*72*1234*8584"
    assert freeswitch_json(doc, vilnius)["dst"] == "*72*1234*8584"
    doc["variables"]["destination_number"] = "alice"
    assert freeswitch_json(doc, vilnius)["dst"] == "alice"


def test_b_legs_are_skipped_with_their_reason_and_a_legs_billed(vilnius, fixtures_dir):
    b_leg = _doc(fixtures_dir, "01")
    b_leg["callflow"][0]["caller_profile"]["originator"] = {
        "originator_caller_profiles": [{"uuid": "3f0d8c1e-6b1f-4c9e-8f6b-0a1b2c3d4e00"}]}
    assert freeswitch_json(b_leg, vilnius) == Skipped("B leg: its A leg's record bills the call")
    originated = _doc(fixtures_dir, "01")
    originated["variables"]["originating_leg_uuid"] = "3f0d8c1e-6b1f-4c9e-8f6b-0a1b2c3d4e00"
    assert isinstance(freeswitch_json(originated, vilnius), Skipped)
    # a dialplan that exports originating_leg_uuid leaves the A leg's own uuid on the A leg
    exported = _doc(fixtures_dir, "01")
    exported["variables"]["originating_leg_uuid"] = exported["variables"]["uuid"]
    assert freeswitch_json(exported, vilnius)["billsec"] == 60


def test_destination_is_the_first_caller_profile_not_where_the_dialplan_transferred(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    del doc["variables"]["destination_number"]
    doc["callflow"] = [
        {"profile_index": "2", "caller_profile": {"destination_number": "ivr", "username": "1001"}},
        {"profile_index": "1", "caller_profile": {"destination_number": "37060000001", "username": "1001"}},
    ]
    assert freeswitch_json(doc, vilnius)["dst"] == "37060000001"
