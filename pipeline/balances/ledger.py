"""One account's balance, made idempotent so that at-least-once delivery charges exactly once.

Why it is exact under redelivery (offsets are committed only after the ledger's changelog write
and the stage's outputs are acknowledged, so a crash replays, never skips):
- a debit carries the cdr.rated position it came from (origin partition, offset); per origin
  partition the debits of one account arrive in offset order, so remembering the last origin
  offset applied per partition (`watermarks`) recognises every replayed debit;
- a payment is applied once per id: the ids are kept beside the ledger, in their own store
  (pipeline/stages/apply_balances.py), for the dedup window, so the ledger stays a few hundred
  bytes however many payments an account receives.
The ledger and its watermarks are one state value, written together, so they never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import orjson


@dataclass
class Ledger:
    balance: Decimal = Decimal(0)
    seq: int = 0  # rises with every applied change; lets readers drop an older snapshot
    watermarks: dict[int, int] = field(default_factory=dict)

    def debit(self, origin_partition: int, origin_offset: int, amount: Decimal) -> bool:
        if origin_offset <= self.watermarks.get(origin_partition, -1):
            return False
        balance = self.balance - amount  # first: an arithmetic error leaves the ledger untouched
        self.watermarks[origin_partition] = origin_offset
        self.balance = balance
        self.seq += 1
        return True

    def credit(self, amount: Decimal) -> None:
        self.balance += amount
        self.seq += 1

    def to_json(self) -> bytes:
        return orjson.dumps({
            "balance": str(self.balance),
            "seq": self.seq,
            "watermarks": {str(p): o for p, o in self.watermarks.items()},
        })

    @classmethod
    def from_json(cls, raw: bytes | None) -> Ledger:
        if not raw:
            return cls()
        data = orjson.loads(raw)
        return cls(
            balance=Decimal(data["balance"]),
            seq=data["seq"],
            watermarks={int(p): o for p, o in data["watermarks"].items()},
        )
