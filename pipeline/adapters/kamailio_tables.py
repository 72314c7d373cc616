"""Kamailio's accounting tables written to files: db_flatstore and db_text rows -> named fields.

db_flatstore writes one file per table and Kamailio process, `<table>_<process>.log`, one row per
line, values joined by "|" (flat_delimiter) in the order acc inserts them, no header:
    acc, missed_calls   method|from_tag|to_tag|callid|sip_code|sip_reason|time|<db_extra...>
    acc_cdrs            start_time|end_time|duration|<cdr_extra...>
Times are epoch seconds. The names of the extra columns are not in the file: the stock db_extra
(src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain) is assumed when the count fits,
else --columns / --cdr-columns name them.

db_text keeps one file per table, named as the table, whose first line names the columns
(`id(int,auto) method(string) ...`) and whose rows join values with ":" (a ":" inside a value is
written "\\:", like "\\n", "\\r", "\\t", "\\\\", "\\0"). It rewrites a table's file whole when
Kamailio stops or on the RPC db_text.dump.
"""
from __future__ import annotations

import re
from pathlib import PurePath

from pipeline.adapters.common import AdapterError

ACC_CORE = ("method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time")
STOCK_EXTRA = ("src_user", "src_domain", "src_ip", "dst_ouser", "dst_user", "dst_domain")
CDR_CORE = ("start_time", "end_time", "duration")
CDR_TABLE = "acc_cdrs"
FLATSTORE_DELIMITER = "|"
_FLATSTORE_FILE = re.compile(r"^(?P<table>.+?)_\d+\.log$")
_DB_TEXT_COLUMN = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*\((?:int|double|str|string|blob|time|datetime)(?:,(?:null|auto))*\)$")
_DB_TEXT_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", ":": ":"}


def table_of(source_topic: str, db_text: bool) -> str:
    """The table a record belongs to, from its file's name (`file:/var/log/acc/acc_cdrs_3.log` ->
    acc_cdrs); a record read from a topic is taken as an acc row."""
    if not source_topic.startswith("file:"):
        return "acc"
    name = PurePath(source_topic.removeprefix("file:")).name
    if db_text:
        return name
    found = _FLATSTORE_FILE.match(name)
    return found.group("table") if found else name.removesuffix(".log")


def flatstore_row(line: str) -> list[str]:
    return line.rstrip("\r\n").split(FLATSTORE_DELIMITER)


def named(values: list[str], names: tuple[str, ...], core: tuple[str, ...], stock_extra: tuple[str, ...] = ()
          ) -> dict[str, str]:
    """Values under their column names: the given names, else the core and the stock extras when
    the count fits, else the core and extra_1, extra_2, ... (kept, never dropped)."""
    if not names:
        names = core + stock_extra if len(values) == len(core) + len(stock_extra) else core
    fields = {name: value for name, value in zip(names, values)}
    for position, value in enumerate(values[len(names):], start=1):
        fields[f"extra_{position}"] = value
    return fields


def db_text_header(line: str) -> list[str] | None:
    """The column names when the line is a db_text table's first line, else None."""
    tokens = line.split()
    if not tokens or not all(_DB_TEXT_COLUMN.match(token) for token in tokens):
        return None
    return [token.split("(", 1)[0] for token in tokens]


def db_text_row(line: str) -> list[str] | AdapterError:
    values, current, chars = [], [], iter(line.rstrip("\r\n"))
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in _DB_TEXT_ESCAPES:
                return AdapterError("line", f"has an unknown db_text escape \\{escaped or ''}")
            current.append(_DB_TEXT_ESCAPES[escaped])
        elif char == ":":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return values
