"""The Kamailio adapters' streams: what reads a log or a table's files record by record.

- KamailioLogStream (`adapter kamailio`): Kamailio's log. A dialog CDR line (`log_write_cdr(): ...`)
  is a call on its own; a transaction line (`ACC: transaction answered: ...`) goes to the pairing.
- KamailioTableStream (`adapter kamailio_flatstore`, `adapter kamailio_db_text`): the acc,
  missed_calls and acc_cdrs tables as db_flatstore or db_text write them; which table a row is
  from comes from its file's name. acc_cdrs rows are calls on their own; acc and missed_calls
  rows are transactions, paired like the log's.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from pipeline.adapters.common import AdapterError, Skipped, SwitchContext, text_line
from pipeline.adapters.kamailio import CDR_MARKER, cdr_from_fields, kamailio_acc
from pipeline.adapters.kamailio_pairing import TransactionPairing
from pipeline.adapters.kamailio_tables import (
    ACC_CORE,
    CDR_CORE,
    CDR_TABLE,
    STOCK_EXTRA,
    db_text_header,
    db_text_row,
    flatstore_row,
    named,
    table_of,
)
from pipeline.adapters.kamailio_transactions import table_fields, transaction_from_fields, transaction_from_line
from pipeline.adapters.stream import Converted, RecordStream
from pipeline.cdr.process import Source

log = logging.getLogger(__name__)
HELD = "held for the rest of its call (run the adapter over the whole log or files to pair it)"


class _PairingStream(RecordStream):
    stateful = True

    def __init__(self, adapter, context: SwitchContext) -> None:
        super().__init__(adapter, context)
        self.pairing = TransactionPairing(context, adapter.name)

    def feed(self, payload: bytes, source: Source) -> list[Converted]:
        try:
            return self._feed(payload, source)
        except Exception as exc:  # a bug must not stop the adapter nor lose the record
            log.exception("adapter %s failed on %s", self.adapter.name, source)
            return [Converted(AdapterError("record", f"internal error {exc!r}"), payload, source)]

    def _feed(self, payload: bytes, source: Source) -> list[Converted]:
        raise NotImplementedError

    def _transaction(self, transaction, payload: bytes, source: Source) -> list[Converted]:
        if isinstance(transaction, AdapterError):
            return [Converted(transaction, payload, source)]
        return self.pairing.feed(transaction, payload, source)

    def open_calls(self) -> int:
        return self.pairing.open_calls()

    def state(self) -> dict[str, Any]:
        return {"pairing": self.pairing.state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.pairing.restore(state.get("pairing") or {})


class KamailioLogStream(_PairingStream):
    def _feed(self, payload: bytes, source: Source) -> list[Converted]:
        line, _ = text_line(payload)
        if CDR_MARKER in line:
            return [Converted(kamailio_acc(line, self.context), payload, source)]
        return self._transaction(transaction_from_line(line, self.context), payload, source)


class KamailioTableStream(_PairingStream):
    db_text = False

    def __init__(self, adapter, context: SwitchContext) -> None:
        super().__init__(adapter, context)
        self.headers: dict[str, list[str]] = {}  # db_text: each file's column names, from its first line

    def _feed(self, payload: bytes, source: Source) -> list[Converted]:
        line, _ = text_line(payload)
        table = table_of(source.topic, self.db_text)
        fields = self._fields(line, table, source)
        if fields is None:
            return []  # a db_text header line: the names of the columns, not a record
        if isinstance(fields, AdapterError):
            return [Converted(fields, payload, source)]
        if table == CDR_TABLE:
            return [Converted(cdr_from_fields(fields, self.context, self.adapter.name), payload, source)]
        return self._transaction(transaction_from_fields(table_fields(fields), self.context), payload, source)

    def _fields(self, line: str, table: str, source: Source) -> dict[str, str] | AdapterError | None:
        if not self.db_text:
            values = flatstore_row(line)
            if table == CDR_TABLE:
                return named(values, self.context.cdr_columns, CDR_CORE)
            return named(values, self.context.columns, ACC_CORE, STOCK_EXTRA)
        header = db_text_header(line)
        if header is not None:
            self.headers[source.topic] = header
            return None
        names = self.headers.get(source.topic)
        if names is None:
            return AdapterError("line", "a db_text row read before its table's header (the file's first line)")
        values = db_text_row(line)
        if isinstance(values, AdapterError):
            return values
        return named(values, tuple(names), ())

    def state(self) -> dict[str, Any]:
        return super().state() | ({"headers": self.headers} if self.db_text else {})

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.headers = {name: list(columns) for name, columns in (state.get("headers") or {}).items()}


class KamailioDbTextStream(KamailioTableStream):
    db_text = True


def one_record(stream_class, name: str):
    """`Adapter.convert` for an adapter that pairs records: one record through a fresh stream. A
    record that completes a call alone converts; one that waits for another says so."""
    def convert(payload: bytes | str, context: SwitchContext):
        raw = payload.encode() if isinstance(payload, str) else payload
        stream = stream_class(SimpleNamespace(name=name, convert=kamailio_acc), context)
        results = stream.feed(raw, Source("record", 0, 0))
        return results[0].result if results else Skipped(HELD)
    return convert
