"""Kamailio's accounting tables as db_flatstore and db_text write them: acc / missed_calls rows are
transactions (paired like the log's), acc_cdrs rows are calls; the file's name says the table."""
from __future__ import annotations

import dataclasses

from pipeline.adapters import ADAPTERS, AdapterError, SwitchContext
from pipeline.adapters.kamailio_tables import (
    db_text_header,
    db_text_row,
    named,
    table_of,
)
from pipeline.cdr.process import Source

CONTEXT = SwitchContext("kam1")


def feed(adapter: str, rows: list[tuple[str, str]], context: SwitchContext = CONTEXT):
    stream = ADAPTERS[adapter].stream(context)
    results = []
    for offset, (path, line) in enumerate(rows):
        results += [item.result for item in stream.feed(line.encode(), Source(f"file:{path}", 0, offset))]
    return results, stream


def test_the_table_is_named_by_the_file():
    assert table_of("file:/var/log/acc/acc_cdrs_12.log", db_text=False) == "acc_cdrs"
    assert table_of("file:/var/log/acc/missed_calls_3.log", db_text=False) == "missed_calls"
    assert table_of("file:/var/log/acc/acc_3.log", db_text=False) == "acc"
    assert table_of("file:/etc/kamailio/dbtext/acc_cdrs", db_text=True) == "acc_cdrs"
    assert table_of("kamailio.acc", db_text=False) == "acc"  # from a topic


def test_flatstore_rows_with_the_stock_db_extra_need_no_names():
    core = "INVITE|ft|tt|c1@h|200|OK|1795777200|"
    results, _ = feed("kamailio_flatstore", [
        ("/acc/acc_5.log", core + "1001|example.org|192.0.2.10|37060000001|37060000001|example.org"),
        ("/acc/acc_7.log", "BYE|tt|ft|c1@h|200|OK|1795777230|37060000001|example.org|192.0.2.20|1001|1001|x"),
    ])
    assert results[0]["billsec"] == 30 and results[0]["device"] == {"sip_user": "1001", "ip": "192.0.2.10"}
    assert results[0]["adapter"] == "kamailio_flatstore"


def test_flatstore_rows_with_other_extras_are_named_by_columns_or_say_so():
    row = ("/acc/missed_calls_1.log", "INVITE|ft||c2@h|486|Busy Here|1795777200|*prepaid|1001|1002||12:34")
    unnamed, _ = feed("kamailio_flatstore", [row])
    assert unnamed[0].field == "account" and "--columns does not name" in unnamed[0].rule
    columns = ("method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time", "reqtype", "account",
               "dst_user")
    results, _ = feed("kamailio_flatstore", [row], dataclasses.replace(CONTEXT, columns=columns))
    cdr = results[0]
    assert (cdr["account"], cdr["dst"], cdr["disposition"], cdr["billsec"]) == ("1001", "1002", "BUSY", 0)
    # the columns past the named ones are kept, never dropped
    assert cdr["switch_fields"]["acc_records"]["invite"]["extra_2"] == "12:34"


def test_flatstore_acc_cdrs_rows_are_calls_on_their_own():
    context = dataclasses.replace(CONTEXT, cdr_columns=("start_time", "end_time", "duration", "callid", "src_user",
                                                        "dst_user", "sip_code"))
    row = ("/acc/acc_cdrs_2.log", "1795777200|1795777262|61.500000|c3@h|1001|37060000001|200")
    results, stream = feed("kamailio_flatstore", [row], context)
    cdr = results[0]
    assert (cdr["call_id"], cdr["billsec"], cdr["device"]) == ("c3@h", 62, {"sip_user": "1001"})
    assert stream.open_calls() == 0
    unnamed, _ = feed("kamailio_flatstore", [("/acc/acc_cdrs_2.log", "1795777200|1795777262|61.5|c3@h|1001")])
    assert unnamed[0].field == "callid" and "--cdr-columns does not name" in unnamed[0].rule


def test_db_text_files_name_their_columns_in_their_first_line():
    header = "id(int,auto) method(string) from_tag(string) to_tag(string) callid(string) sip_code(string) " \
             "sip_reason(string) time(int) src_user(string) dst_user(string)"
    results, stream = feed("kamailio_db_text", [
        ("/dbtext/acc", header),
        ("/dbtext/acc", r"1:INVITE:ft:tt:c4@10.0.0.1\:5060:200:OK:1795777200:1001:*72*1234"),
        ("/dbtext/acc", r"2:BYE:ft:tt:c4@10.0.0.1\:5060:200:OK:1795777209:1001:*72*1234"),
    ])
    assert len(results) == 1
    cdr = results[0]
    assert (cdr["call_id"], cdr["dst"], cdr["billsec"]) == ("c4@10.0.0.1:5060", "*72*1234", 9)
    assert stream.state()["headers"] == {"file:/dbtext/acc": header.replace("(string)", "").replace("(int,auto)", "")
                                         .replace("(int)", "").split()}


def test_db_text_row_before_any_header_and_bad_escapes_are_rejected():
    results, _ = feed("kamailio_db_text", [("/dbtext/acc", "1:INVITE:ft:tt:c:200:OK:1")])
    assert results == [AdapterError("line", "a db_text row read before its table's header (the file's first line)")]
    assert db_text_row(r"a\qb") == AdapterError("line", r"has an unknown db_text escape \q")
    assert db_text_row(r"a\\b:c\nd:") == ["a\\b", "c\nd", ""]
    assert db_text_header("id(int,auto) start_time(time) duration(double,null)") == ["id", "start_time", "duration"]
    assert db_text_header("1:INVITE:ft") is None


def test_named_keeps_every_value():
    assert named(["a", "b", "c"], ("x",), ()) == {"x": "a", "extra_1": "b", "extra_2": "c"}
    assert named(["a"], ("x", "y"), ()) == {"x": "a"}
