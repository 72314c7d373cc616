"""Kamailio's transactions -> calls: an answered INVITE is held until its BYE, then both make one CDR.

What each transaction record becomes:
    INVITE 2xx        held (the call is in progress); a second one for the same dialog is a
                      re-INVITE or a copy, counted as skipped
    INVITE 401/407    skipped: the proxy asked for credentials, the INVITE comes again
    INVITE >= 300     a CDR of an unanswered call (billsec 0) at once
    ACK               folded into its held INVITE (gives the answer time when the INVITE has none)
    BYE               with its held INVITE: the call's CDR. Before its INVITE (flatstore writes one
                      file per Kamailio process, read one after the other): held until the INVITE
    CANCEL, others    skipped: not a call
Given up, as rejections that name the call: an INVITE whose BYE has not come within
max_call_seconds of the log's own time, a BYE whose INVITE has not come within ORPHAN_SECONDS.
The held records and the dialogs recently sent are the stream's state, saved with the input's
position: a restart loses none and sends none twice.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pipeline.adapters.common import AdapterError, Skipped, SwitchContext
from pipeline.adapters.kamailio_transactions import Transaction, answered_call, epoch, unanswered_call
from pipeline.adapters.stream import Converted
from pipeline.cdr.process import Source

ORPHAN_SECONDS = 300
RECENT_DIALOGS = 5000  # enough to know a whole batch read again after a crash


@dataclass
class Held:
    transaction: Transaction
    payload: bytes
    source: Source
    ack: Transaction | None = None

    def to_state(self) -> dict[str, Any]:
        return {"transaction": self.transaction.to_state(), "payload": self.payload.decode("utf-8", "replace"),
                "source": [self.source.topic, self.source.partition, self.source.offset],
                "ack": self.ack.to_state() if self.ack else None}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Held:
        topic, partition, offset = state["source"]
        ack = Transaction.from_state(state["ack"]) if state.get("ack") else None
        return cls(Transaction.from_state(state["transaction"]), state["payload"].encode(),
                   Source(topic, int(partition), int(offset)), ack)


class TransactionPairing:
    def __init__(self, context: SwitchContext, adapter: str) -> None:
        self.context = context
        self.adapter = adapter
        self.invites: dict[str, Held] = {}
        self.byes: dict[str, Held] = {}
        self.sent: OrderedDict[str, None] = OrderedDict()
        self.latest: float = 0.0  # the newest transaction time seen: the log's own clock
        # records that gave no result of their own because they became part of another's (an
        # INVITE in its BYE's CDR, an ACK in its INVITE): fed = results + merged + held
        self.merged = 0

    def feed(self, transaction: Transaction, payload: bytes, source: Source) -> list[Converted]:
        moment = epoch(transaction.time)
        if moment is not None:
            self.latest = max(self.latest, moment)
        results = self._one(transaction, payload, source)
        return results + self._expired()

    def _one(self, tx: Transaction, payload: bytes, source: Source) -> list[Converted]:
        def result(value) -> list[Converted]:
            return [Converted(value, payload, source)]

        key = tx.key
        if tx.method == "INVITE":
            if tx.code >= 300 or tx.code < 200:
                return result(unanswered_call(tx, self.context, self.adapter) if tx.code >= 300 else
                              AdapterError("code", f"{tx.code} is not a final reply: acc logs final replies only"))
            if key in self.sent:
                return result(Skipped("a copy of an INVITE whose call was already sent"))
            if key in self.invites:
                return result(Skipped("a second answered INVITE in an open dialog (a re-INVITE)"))
            held = Held(tx, payload, source)
            if key in self.byes:
                return self._call(held, self.byes.pop(key))
            self.invites[key] = held
            return []
        if tx.method == "ACK":
            if key in self.invites:
                if self.invites[key].ack is not None:
                    return result(Skipped("a second ACK in an open dialog"))
                self.invites[key].ack = tx
                self.merged += 1
                return []
            if key in self.sent:
                return result(Skipped("a copy of an ACK whose call was already sent"))
            # an export that times the ACK rather than the INVITE: the ACK is the answer
            self.invites[key] = Held(tx, payload, source)
            return []
        if tx.method == "BYE":
            if key in self.sent:
                return result(Skipped("a copy of a BYE whose call was already sent"))
            if key in self.invites:
                return self._call(self.invites.pop(key), Held(tx, payload, source))
            if key in self.byes:
                return result(Skipped("a second BYE of a dialog whose INVITE has not come"))
            self.byes[key] = Held(tx, payload, source)
            return []
        if tx.method == "CANCEL":
            return result(Skipped("CANCEL: the INVITE's own record covers the call"))
        return result(Skipped(f"{tx.method}: not a call"))

    def _call(self, invite: Held, bye: Held) -> list[Converted]:
        start = invite.transaction if invite.transaction.method == "INVITE" else None
        ack = invite.ack if start else invite.transaction
        cdr = answered_call(start or invite.transaction, bye.transaction, self.context, self.adapter, ack)
        self._remember(invite.transaction.key)
        self.merged += 1  # the one of the two records that was held
        # a rejection shows both records: the operator sees the whole call
        return [Converted(cdr, invite.payload + b"\n" + bye.payload, bye.source)]

    def _remember(self, key: str) -> None:
        self.sent[key] = None
        self.sent.move_to_end(key)
        while len(self.sent) > RECENT_DIALOGS:
            self.sent.popitem(last=False)

    def _expired(self) -> list[Converted]:
        results = []
        for key, held in list(self.invites.items()):
            started = epoch(held.transaction.time or (held.ack.time if held.ack else None))
            if started is not None and self.latest - started > self.context.max_call_seconds:
                del self.invites[key]
                error = AdapterError("BYE", f"none within {self.context.max_call_seconds} s of the INVITE answered at "
                                            f"{held.transaction.time or held.ack.time} (call_id "
                                            f"{held.transaction.call_id}): the call's end was never logged (BYE "
                                            "not flagged for acc, or lost)")
                results.append(Converted(error, held.payload, held.source))
        for key, held in list(self.byes.items()):
            ended = epoch(held.transaction.time)
            if ended is None or self.latest - ended > ORPHAN_SECONDS:
                del self.byes[key]
                results.append(Converted(AdapterError(
                    "INVITE", f"none answered for the BYE of call_id {held.transaction.call_id}: its INVITE was "
                              "never logged (an older file rotated away, another server's log, or an INVITE not "
                              "flagged for acc)"), held.payload, held.source))
        return results

    def open_calls(self) -> int:
        return len(self.invites) + len(self.byes)

    def state(self) -> dict[str, Any]:
        return {"invites": {key: held.to_state() for key, held in self.invites.items()},
                "byes": {key: held.to_state() for key, held in self.byes.items()},
                "sent": list(self.sent), "latest": self.latest}

    def restore(self, state: dict[str, Any]) -> None:
        self.invites = {key: Held.from_state(value) for key, value in (state.get("invites") or {}).items()}
        self.byes = {key: Held.from_state(value) for key, value in (state.get("byes") or {}).items()}
        self.sent = OrderedDict((key, None) for key in state.get("sent") or [])
        self.latest = float(state.get("latest") or 0.0)
