"""Asterisk CDRs: cdr_csv's Master.csv lines and cdr_kafka-style JSON (one CDR object per message).

Mapping (README "Asterisk"):
    call_id      <- uniqueid (the Party A channel's unique id; required)
    server_id    <- the adapter's server (--server; Asterisk's CDR does not name its system)
    account      <- accountcode (set per channel or with CDR(accountcode); required)
    src          <- src (Caller ID number)
    dst          <- dst (destination extension)
    start_time   <- start;  answer_time <- answer (empty when not answered);  end_time <- end
    duration     <- duration;  billsec <- billsec
    disposition  <- disposition (ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION: the contract's words)
    switch_fields <- every other column (clid, dcontext, channel, dstchannel, lastapp, lastdata,
                     amaflags, userfield, linkedid, peeraccount, sequence, ...)
Times without an offset are the Asterisk box's local time (cdr.conf usegmtime=no, the default):
they are read in --timezone. Epoch seconds and ISO-8601 with an offset are taken as they are.
"""
from __future__ import annotations

import csv
from typing import Any

from pipeline.adapters.common import (
    AdapterError, BadField, SwitchContext, finish, iso, json_object, required, seconds, text, timestamp,
)

# cdr_csv.c build_csv_record(): 16 base columns, then uniqueid (loguniqueid=yes) and userfield
# (loguserfield=yes), then peeraccount, linkedid, sequence (newcdrcolumns=yes).
CSV_BASE = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
            "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")
CSV_LAYOUTS = {
    len(CSV_BASE) + 2: CSV_BASE + ("uniqueid", "userfield"),
    len(CSV_BASE) + 5: CSV_BASE + ("uniqueid", "userfield", "peeraccount", "linkedid", "sequence"),
}
MAPPED = ("uniqueid", "accountcode", "src", "dst", "start", "answer", "end", "duration", "billsec", "disposition")
NAMES = {"call_id": "uniqueid", "account": "accountcode", "src": "src", "dst": "dst", "start_time": "start",
         "answer_time": "answer", "end_time": "end", "duration": "duration", "billsec": "billsec",
         "disposition": "disposition"}


def asterisk_csv(line: str | bytes, context: SwitchContext) -> dict | AdapterError:
    """One Master.csv line (cdr.conf loguniqueid=yes and loguserfield=yes, Asterisk's defaults)."""
    try:
        if isinstance(line, bytes):
            line = line.decode("utf-8")
        rows = list(csv.reader([line.rstrip("\r\n")], strict=True))
    except UnicodeDecodeError:
        return AdapterError("line", "is not UTF-8 text")
    except csv.Error as exc:
        return AdapterError("line", f"is not a CSV line ({exc})")
    columns = rows[0] if rows else []
    layout = CSV_LAYOUTS.get(len(columns))
    if layout is None:
        expected = " or ".join(str(n) for n in sorted(CSV_LAYOUTS))
        return AdapterError("line", f"has {len(columns)} columns, expected {expected} "
                                    "(cdr.conf [csv] loguniqueid=yes, loguserfield=yes; newcdrcolumns adds 3)")
    return _map(dict(zip(layout, columns)), context, "asterisk_csv")


def asterisk_json(payload: str | bytes | dict, context: SwitchContext) -> dict | AdapterError:
    """One CDR as a JSON object with Asterisk's CDR field names (cdr_kafka, cdr_manager, ARI)."""
    record = json_object(payload)
    if isinstance(record, AdapterError):
        return record
    return _map(record, context, "asterisk_json")


def _map(record: dict[str, Any], context: SwitchContext, adapter: str) -> dict | AdapterError:
    try:
        tz = context.local_tz
        cdr = {
            "call_id": text(record, "uniqueid", required=True),
            "server_id": context.server_id,
            "account": text(record, "accountcode", required=True),
            "src": text(record, "src"),
            "dst": text(record, "dst", required=True),
            "start_time": iso(required(timestamp(record.get("start"), "start", tz), "start")),
            "answer_time": iso(timestamp(record.get("answer"), "answer", tz)),
            "end_time": iso(timestamp(record.get("end"), "end", tz)),
            "duration": seconds(record, "duration", required=False),
            "billsec": seconds(record, "billsec"),
            "disposition": text(record, "disposition") or None,
        }
    except BadField as exc:
        return exc.error
    extra = {key: value for key, value in record.items() if key not in MAPPED}
    return finish(cdr, extra, adapter, NAMES)
