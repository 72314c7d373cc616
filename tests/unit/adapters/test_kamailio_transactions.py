"""Kamailio's stock acc records (one per SIP transaction) and how the log adapter pairs them into calls."""
from __future__ import annotations

import dataclasses
import json

from pipeline.adapters import ADAPTERS, AdapterError, Skipped, SwitchContext
from pipeline.adapters.kamailio_transactions import transaction_from_line
from pipeline.cdr.process import Source

PREFIX = " 1(20817) NOTICE: acc [acc.c:279]: acc_log_request(): "
EXTRA = "src_user=1001;src_domain=example.org;src_ip=192.0.2.10;dst_ouser=37060000001;dst_user=37060000001;" \
        "dst_domain=example.org"
CONTEXT = SwitchContext("kam1")


def acc(kind: str, method: str, ts: int, code: int = 200, call_id: str = "c1@h", tags=("ft", "tt"),
        extra: str = EXTRA, reason: str = "OK") -> bytes:
    return (f"{PREFIX}ACC: {kind}: timestamp={ts};method={method};from_tag={tags[0]};to_tag={tags[1]};"
            f"call_id={call_id};code={code};reason={reason};{extra}").encode()


def run(lines: list[bytes], context: SwitchContext = CONTEXT, state: dict | None = None):
    stream = ADAPTERS["kamailio"].stream(context)
    if state is not None:
        stream.restore(state)
    results = []
    for offset, line in enumerate(lines):
        results += [item.result for item in stream.feed(line, Source("file:/var/log/kamailio.log", 0, offset))]
    return results, stream


def test_a_transaction_line_is_read_whatever_syslog_wrote_before_it():
    tx = transaction_from_line("Jul 22 13:56:45 pbx kamailio[1234]: " + acc("transaction answered", "INVITE",
                                                                            1374493797).decode(), CONTEXT)
    assert (tx.method, tx.call_id, tx.code, tx.from_tag, tx.to_tag) == ("INVITE", "c1@h", 200, "ft", "tt")
    assert tx.time.isoformat() == "2013-07-22T11:49:57+00:00"
    assert tx.fields["src_ip"] == "192.0.2.10" and tx.fields["acc"] == "transaction answered"


def test_time_mode_1_and_2_make_the_time_finer():
    line = acc("transaction answered", "INVITE", 1374493797).decode()
    micro = transaction_from_line(line.replace("timestamp=1374493797;", "timestamp=1374493797;time_exten=250000;"),
                                  CONTEXT)
    milli = transaction_from_line(line.replace("timestamp=1374493797;", "timestamp=1374493797;time_attr=1374493797.5;"),
                                  CONTEXT)
    assert micro.time.microsecond == 250000 and milli.time.microsecond == 500000


def test_unknown_kinds_and_missing_fields_are_rejected_by_name():
    assert transaction_from_line("ACC: request replied: timestamp=1;method=BYE;call_id=x;code=200", CONTEXT).rule \
        .startswith("acc record kind 'request replied' is none of")
    assert transaction_from_line(acc("transaction answered", "INVITE", 1).decode().replace("call_id=c1@h;", ""),
                                 CONTEXT) == AdapterError("call_id", "missing or empty")
    assert transaction_from_line("ACC: call missed: timestamp=1;method=INVITE;call_id=x;code=4x6", CONTEXT) == \
        AdapterError("code", "must be a 3-digit SIP status (got '4x6')")


def test_an_answered_invite_and_its_bye_make_one_call_billed_from_answer_to_bye():
    results, stream = run([acc("transaction answered", "INVITE", 1795777200),
                           acc("transaction answered", "BYE", 1795777261)])
    assert len(results) == 1 and stream.open_calls() == 0
    cdr = results[0]
    assert (cdr["call_id"], cdr["billsec"], cdr["duration"], cdr["disposition"]) == ("c1@h", 61, 61, "ANSWERED")
    assert cdr["device"] == {"sip_user": "1001", "ip": "192.0.2.10"} and cdr["account"] == ""
    assert cdr["dst"] == "37060000001" and cdr["adapter"] == "kamailio" and "segment" not in cdr
    assert cdr["switch_fields"]["acc_records"]["bye"]["method"] == "BYE"


def test_a_bye_from_the_callee_carries_the_tags_the_other_way_round():
    results, _ = run([acc("transaction answered", "INVITE", 100), acc("transaction answered", "BYE", 130,
                                                                     tags=("tt", "ft"))])
    assert results[0]["billsec"] == 30


def test_an_invite_waits_for_its_bye_and_the_wait_survives_a_restart_through_the_state():
    results, stream = run([acc("transaction answered", "INVITE", 100)])
    assert results == [] and stream.open_calls() == 1
    state = json.loads(json.dumps(stream.state()))  # what the state file holds
    results, restarted = run([acc("transaction answered", "BYE", 145)], state=state)
    assert [cdr["billsec"] for cdr in results] == [45] and restarted.open_calls() == 0
    # the same batch read again after a crash: the call is known as sent, not charged twice
    again, _ = run([acc("transaction answered", "BYE", 145)], state=json.loads(json.dumps(restarted.state())))
    assert again == [Skipped("a copy of a BYE whose call was already sent")]


def test_failed_and_missed_invites_are_unanswered_calls_with_a_segment_of_their_own():
    results, _ = run([acc("call missed", "INVITE", 100, 486, reason="Busy Here"),
                           acc("transaction answered", "INVITE", 105, 200),
                           acc("transaction answered", "BYE", 125)])
    busy, answered = results
    assert (busy["disposition"], busy["billsec"], busy["segment"]) == ("BUSY", 0, "failed-486-100")
    # serial forking: the same Call-ID answered on the next branch keeps the call's own key
    assert answered["call_id"] == busy["call_id"] and "segment" not in answered and answered["billsec"] == 20


def test_auth_challenges_cancels_and_other_methods_are_skipped_with_their_reason():
    results, _ = run([acc("call missed", "INVITE", 100, 407, reason="Proxy Authentication Required"),
                           acc("transaction answered", "CANCEL", 101),
                           acc("transaction answered", "MESSAGE", 102),
                           acc("transaction answered", "INVITE", 103, 183)])
    assert results[:3] == [Skipped("INVITE 407: an authentication challenge, not a call attempt"),
                           Skipped("CANCEL: the INVITE's own record covers the call"),
                           Skipped("MESSAGE: not a call")]
    assert results[3] == AdapterError("code", "183 is not a final reply: acc logs final replies only")


def test_a_second_answered_invite_is_a_reinvite_and_the_call_is_billed_once():
    results, _ = run([acc("transaction answered", "INVITE", 100), acc("transaction answered", "INVITE", 110),
                      acc("transaction answered", "BYE", 160)])
    assert results[0] == Skipped("a second answered INVITE in an open dialog (a re-INVITE)")
    assert results[1]["billsec"] == 60


def test_an_invite_whose_bye_never_comes_is_given_up_after_max_call_seconds_of_log_time():
    context = dataclasses.replace(CONTEXT, max_call_seconds=3600)
    results, stream = run([acc("transaction answered", "INVITE", 100, call_id="lost"),
                           acc("transaction answered", "INVITE", 3000, call_id="other"),
                           acc("transaction answered", "INVITE", 3701, call_id="third")], context)
    assert len(results) == 1 and results[0].field == "BYE"
    assert "none within 3600 s of the INVITE answered at" in results[0].rule and "call_id lost" in results[0].rule
    assert stream.open_calls() == 2


def test_a_bye_whose_invite_never_comes_is_rejected_after_the_orphan_wait():
    results, stream = run([acc("transaction answered", "BYE", 100, call_id="orphan"),
                           acc("transaction answered", "INVITE", 401, call_id="next")])
    assert len(results) == 1 and results[0].field == "INVITE" and "call_id orphan" in results[0].rule
    assert stream.open_calls() == 1


def test_a_bye_before_its_invite_waits_and_pairs():
    results, stream = run([acc("transaction answered", "BYE", 160), acc("transaction answered", "INVITE", 100)])
    assert [cdr["billsec"] for cdr in results] == [60] and stream.open_calls() == 0


def test_no_caller_or_no_destination_in_the_invite_is_a_rejection_naming_log_extra():
    results, _ = run([acc("transaction answered", "INVITE", 100, extra="dst_user=370"),
                      acc("transaction answered", "BYE", 110, extra="")])
    assert results[0].field == "account" and "add them to acc's log_extra / db_extra" in results[0].rule
    results, _ = run([acc("transaction answered", "INVITE", 100, extra="src_user=1001"),
                      acc("transaction answered", "BYE", 110, extra="")])
    assert results[0].field == "dst_user"


def test_the_log_adapter_still_takes_dialog_cdr_lines_among_transactions(fixture_lines):
    lines = [line.encode() for line in fixture_lines("kamailio/acc.log") if ADAPTERS["kamailio"].is_record(line)]
    results, stream = run(lines + [acc("transaction answered", "INVITE", 100)])
    assert [cdr["call_id"] for cdr in results] == ["1-13853@127.0.0.1", "3-13870@127.0.0.1", "1-13105@127.0.0.1"]
    assert stream.open_calls() == 1


def test_one_record_alone_through_the_adapter_function_says_it_is_held():
    convert = ADAPTERS["kamailio"].convert
    held = convert(acc("transaction answered", "INVITE", 100), CONTEXT)
    assert isinstance(held, Skipped) and held.reason.startswith("held for the rest of its call")
    assert convert(acc("call missed", "INVITE", 100, 480), CONTEXT)["disposition"] == "NO ANSWER"
