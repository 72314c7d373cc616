"""Switch adapters: the CDRs Asterisk, FreeSWITCH and Kamailio really write -> contract CDRs on cdr.raw.

Each adapter is a pure function (`asterisk_csv`, `asterisk_json`, `freeswitch_json`, `kamailio_acc`)
from one switch record to a CDR dict or an `AdapterError`; `runner` feeds them from a file, a
directory or a topic and produces the results. `ADAPTERS` names them for the command line.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.adapters.asterisk import asterisk_csv, asterisk_json
from pipeline.adapters.common import AdapterError, SwitchContext
from pipeline.adapters.freeswitch import freeswitch_json
from pipeline.adapters.kamailio import is_cdr_line, kamailio_acc


def _every_record(_: bytes) -> bool:
    return True


@dataclass(frozen=True)
class Adapter:
    name: str
    convert: Callable[[bytes, SwitchContext], dict | AdapterError]
    # which lines/messages are records at all (Kamailio's log holds its other messages too)
    is_record: Callable[[bytes], bool] = _every_record
    # in a directory: "line" = every line of every file is a record (Master.csv and its rotations);
    # "file" = each file is one record (FreeSWITCH's log-dir writes one JSON file per call)
    dir_framing: str = "line"


ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        Adapter("asterisk_csv", asterisk_csv, lambda line: bool(line.strip())),
        Adapter("asterisk_json", asterisk_json, lambda line: bool(line.strip())),
        Adapter("freeswitch", freeswitch_json, lambda line: bool(line.strip()), dir_framing="file"),
        Adapter("kamailio", kamailio_acc, is_cdr_line),
    )
}

__all__ = ["ADAPTERS", "Adapter", "AdapterError", "SwitchContext", "asterisk_csv", "asterisk_json",
           "freeswitch_json", "kamailio_acc"]
