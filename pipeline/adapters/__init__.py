"""Switch adapters: the CDRs Asterisk, FreeSWITCH and Kamailio really write -> contract CDRs on cdr.raw.

Each adapter is a pure function (`asterisk_csv`, `asterisk_json`, `freeswitch_json`, `kamailio_acc`)
from one switch record to a CDR dict, an `AdapterError`, or `Skipped` (understood, not billed);
Kamailio's stock accounting needs several records per call (an INVITE, then its BYE), so its
adapters read through a stream that holds a record until its call is complete (stream.py).
`runner` feeds them from a file, a directory or a topic and produces the results. `ADAPTERS`
names them for the command line.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.adapters.asterisk import asterisk_csv, asterisk_json
from pipeline.adapters.common import AdapterError, Skipped, SwitchContext
from pipeline.adapters.freeswitch import freeswitch_json
from pipeline.adapters.kamailio import is_cdr_line, kamailio_acc
from pipeline.adapters.kamailio_streams import (
    KamailioDbTextStream,
    KamailioLogStream,
    KamailioTableStream,
    one_record,
)
from pipeline.adapters.stream import RecordStream


def _every_record(_: bytes) -> bool:
    return True


@dataclass(frozen=True)
class Adapter:
    name: str
    convert: Callable[[bytes, SwitchContext], dict | AdapterError | Skipped]
    # which lines/messages are records at all (Kamailio's log holds its other messages too)
    is_record: Callable[[bytes], bool] = _every_record
    # in a directory: "line" = every line of every file is a record (Master.csv and its rotations);
    # "file" = each file is one record (FreeSWITCH's log-dir writes one JSON file per call)
    dir_framing: str = "line"
    # how the runner reads records: one by one (RecordStream), or pairing them (Kamailio's streams)
    stream_class: type[RecordStream] = RecordStream

    def stream(self, context: SwitchContext) -> RecordStream:
        return self.stream_class(self, context)


def _non_blank(line: bytes) -> bool:
    return bool(line.strip())


ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        Adapter("asterisk_csv", asterisk_csv, _non_blank),
        Adapter("asterisk_json", asterisk_json, _non_blank),
        Adapter("freeswitch", freeswitch_json, _non_blank, dir_framing="file"),
        Adapter("kamailio", one_record(KamailioLogStream, "kamailio"), is_cdr_line, stream_class=KamailioLogStream),
        Adapter("kamailio_flatstore", one_record(KamailioTableStream, "kamailio_flatstore"), _non_blank,
                stream_class=KamailioTableStream),
        Adapter("kamailio_db_text", one_record(KamailioDbTextStream, "kamailio_db_text"), _non_blank,
                stream_class=KamailioDbTextStream),
    )
}

__all__ = ["ADAPTERS", "Adapter", "AdapterError", "Skipped", "SwitchContext", "asterisk_csv", "asterisk_json",
           "freeswitch_json", "kamailio_acc"]
