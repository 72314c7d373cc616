"""The per-account table of a run (pure): calls, old total, new total, difference."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass
class AccountTotals:
    calls: int = 0
    old: Decimal = ZERO
    new: Decimal = ZERO

    @property
    def difference(self) -> Decimal:
        return self.new - self.old


@dataclass
class RunSummary:
    accounts: dict[str, AccountTotals] = field(default_factory=dict)
    calls: int = 0  # in scope
    changed: int = 0  # got a new version (in this run, or in an earlier attempt with the same id)
    not_repriced: dict[str, int] = field(default_factory=dict)  # reason -> calls left as they were

    def add(self, old_owed: dict[str, Decimal], new_owed: dict[str, Decimal]) -> None:
        for account in {**old_owed, **new_owed}:
            totals = self.accounts.setdefault(account, AccountTotals())
            totals.calls += 1
            totals.old += old_owed.get(account, ZERO)
            totals.new += new_owed.get(account, ZERO)

    def refused(self, reason: str) -> None:
        self.not_repriced[reason] = self.not_repriced.get(reason, 0) + 1

    def as_json(self) -> dict:
        """For the API (POST /v1/rerates): money as decimal strings."""
        return {
            "calls": self.calls, "changed": self.changed, "not_repriced": dict(self.not_repriced),
            "accounts": [{"account": account, "calls": t.calls, "old": str(t.old), "new": str(t.new),
                          "difference": str(t.difference)} for account, t in sorted(self.accounts.items())],
        }

    def table(self) -> str:
        header = ("account", "calls", "old total", "new total", "difference")
        rows = [(account, str(t.calls), str(t.old), str(t.new), _signed(t.difference))
                for account, t in sorted(self.accounts.items())]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
                 for r in [header, *rows]]
        lines.append(f"{self.calls} calls in scope, {self.changed} with new prices")
        for reason, count in sorted(self.not_repriced.items()):
            lines.append(f"{count} calls not re-rated ({reason}): they keep their prices")
        return "\n".join(lines)


def _signed(amount: Decimal) -> str:
    return f"+{amount}" if amount > 0 else str(amount)
