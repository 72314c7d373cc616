from __future__ import annotations

import json

from pipeline.adapters import AdapterError, freeswitch_json
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


def test_missing_account_or_variables_name_the_field(vilnius, fixtures_dir):
    doc = _doc(fixtures_dir, "01")
    del doc["variables"]["accountcode"]
    assert freeswitch_json(doc, vilnius) == AdapterError("variables.accountcode", "missing or empty")
    assert freeswitch_json({"callflow": []}, vilnius).field == "variables"
    doc = _doc(fixtures_dir, "01")
    doc["variables"]["destination_number"] = "abc"
    error = freeswitch_json(doc, vilnius)
    assert error.field == "variables.destination_number" and "no digits" in error.rule
