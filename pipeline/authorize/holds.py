"""The holds of running calls, pure: placed all at once, released when the debit they stand for
is in the balance, or when their CDR never comes.

A call's record (`CallHold`) is the state value of the authorizer's store, key `server/call`:
its answer, the holds still in force, and where it stands. Its life:
- `live`: answered, holds placed, counted against the call limits;
- `settled`: its CDR was rated. It no longer counts as a running call. Each hold is released once
  the ledger of its account has applied the call's debit (the balance the authorizer reads then
  includes it), so the call's money is never counted twice nor missed in between; a party the CDR
  does not debit is released at once;
- `expired`: no CDR came by max_seconds + grace: every hold released, nothing charged. A CDR that
  comes later is charged by the ledgers as any other;
- `refused`: kept only so that the same question gets the same answer.
The aggregates (held per account, running calls per account and reseller) are derived from the
records and rebuilt from the store when the authorizer starts.
"""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

LIVE, SETTLED, EXPIRED, REFUSED = "live", "settled", "expired", "refused"
_ZERO = Decimal(0)


@dataclass
class CallHold:
    key: str
    account: str
    reseller: str
    answer: dict  # Answer.to_json(), returned again to the same question
    holds: dict[str, Decimal]  # holds still in force
    at_ms: int  # when it was decided
    expires_ms: int  # when its holds go if no CDR came
    state: str = LIVE
    settling: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> cdr.rated (partition, offset)
    asked: int = 1  # times the question was asked (a retransmission re-sends the same answer)
    device: str = ""  # the device the caller was found by: the call counts against its call_limit

    def to_json(self) -> bytes:
        return orjson.dumps({
            "key": self.key, "account": self.account, "reseller": self.reseller, "answer": self.answer,
            "holds": {a: str(v) for a, v in self.holds.items()}, "at_ms": self.at_ms,
            "expires_ms": self.expires_ms, "state": self.state,
            "settling": {a: list(v) for a, v in self.settling.items()}, "asked": self.asked,
            "device": self.device,
        })

    @classmethod
    def from_json(cls, raw: bytes) -> CallHold:
        data = orjson.loads(raw)
        return cls(data["key"], data["account"], data["reseller"], data["answer"],
                   {a: Decimal(v) for a, v in data["holds"].items()}, data["at_ms"], data["expires_ms"],
                   data["state"], {a: (v[0], v[1]) for a, v in data["settling"].items()}, data["asked"],
                   data.get("device", ""))  # records written before devices have none


class HoldBook:
    """Every open call's holds, and the sums the decisions read."""

    def __init__(self) -> None:
        self.calls: dict[str, CallHold] = {}  # calls with holds or still running
        self.held: dict[str, Decimal] = {}
        self.running: Counter[str] = Counter()  # account -> running calls
        self.reseller_running: Counter[str] = Counter()
        self.device_running: Counter[str] = Counter()  # device id -> running calls made through it
        self.watermarks: dict[str, dict[int, int]] = {}  # account -> the ledger's cdr.rated offsets applied
        self._settling_of: dict[str, set[str]] = {}  # account -> calls waiting for his ledger
        self._expiry: list[tuple[int, str]] = []

    # --- building ---------------------------------------------------------------------------------
    def load(self, records: Iterable[CallHold]) -> None:
        for record in records:
            if record.holds or record.state == LIVE:
                self._track(record)

    def add(self, record: CallHold) -> None:
        """A new call, answered: its holds are in force from here on."""
        if record.key in self.calls:
            raise ValueError(f"call {record.key} is held already")
        self._track(record)

    def _track(self, record: CallHold) -> None:
        self.calls[record.key] = record
        for account, amount in record.holds.items():
            self.held[account] = self.held.get(account, _ZERO) + amount
        for account in record.settling:
            self._settling_of.setdefault(account, set()).add(record.key)
        if record.state == LIVE:
            self.running[record.account] += 1
            if record.reseller:
                self.reseller_running[record.reseller] += 1
            if record.device:
                self.device_running[record.device] += 1
            heapq.heappush(self._expiry, (record.expires_ms, record.key))

    # --- settling ---------------------------------------------------------------------------------
    def settle(self, key: str, partition: int, offset: int, debited: Iterable[str]) -> CallHold | None:
        """The call's CDR was rated at cdr.rated (partition, offset) and debits `debited`.
        Returns the changed record, or None when nothing changed (not ours, or seen before)."""
        record = self.calls.get(key)
        if record is None or record.state != LIVE:
            return None
        self._stop_running(record)
        record.state = SETTLED
        debited = set(debited)
        for account in list(record.holds):
            applied = self.watermarks.get(account, {}).get(partition, -1) >= offset
            if account in debited and not applied:
                record.settling[account] = (partition, offset)
                self._settling_of.setdefault(account, set()).add(key)
            else:
                self._release(record, account)
        self._forget_if_done(record)
        return record

    def ledger_applied(self, account: str, watermarks: Mapping[int, int]) -> list[CallHold]:
        """The account's ledger has applied every debit up to these offsets: release the holds
        whose debits are now in its balance. Returns the changed records."""
        known = self.watermarks.setdefault(account, {})
        for partition, offset in watermarks.items():
            if offset > known.get(partition, -1):
                known[partition] = offset
        changed = []
        waiting = self._settling_of.get(account, set())
        for key in list(waiting):
            record = self.calls[key]
            partition, offset = record.settling[account]
            if known.get(partition, -1) >= offset:
                del record.settling[account]
                waiting.discard(key)
                self._release(record, account)
                self._forget_if_done(record)
                changed.append(record)
        if not waiting:
            self._settling_of.pop(account, None)
        return changed

    def expire(self, now_ms: int) -> list[CallHold]:
        """Calls whose CDR did not come in time: every hold released, nothing charged."""
        expired = []
        while self._expiry and self._expiry[0][0] <= now_ms:
            _, key = heapq.heappop(self._expiry)
            record = self.calls.get(key)
            if record is None or record.state != LIVE or record.expires_ms > now_ms:
                continue
            self._stop_running(record)
            record.state = EXPIRED
            for account in list(record.holds):
                self._release(record, account)
            self._forget_if_done(record)
            expired.append(record)
        return expired

    # --- internals --------------------------------------------------------------------------------
    def _stop_running(self, record: CallHold) -> None:
        self.running[record.account] -= 1
        if self.running[record.account] <= 0:
            del self.running[record.account]
        if record.reseller:
            self.reseller_running[record.reseller] -= 1
            if self.reseller_running[record.reseller] <= 0:
                del self.reseller_running[record.reseller]
        if record.device:
            self.device_running[record.device] -= 1
            if self.device_running[record.device] <= 0:
                del self.device_running[record.device]

    def _release(self, record: CallHold, account: str) -> None:
        amount = record.holds.pop(account)
        left = self.held.get(account, _ZERO) - amount
        if left == _ZERO:
            self.held.pop(account, None)
        else:
            self.held[account] = left

    def _forget_if_done(self, record: CallHold) -> None:
        if record.state != LIVE and not record.holds:
            self.calls.pop(record.key, None)
