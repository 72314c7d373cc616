"""A payment on balance.payments: `{"id", "account", "amount"}` (docs/contract.md "Topics").

The amount is checked where it enters, so the ledger never meets a number it cannot add exactly:
a decimal string (or a JSON integer) of the ASCII digits 0-9, > 0, at most 6 decimal places, at
most 28 significant digits (no exponent: "1E+1000000" would overflow the ledger's Decimal
arithmetic), and below 10^12 (limits.PAYMENT_BELOW says why that keeps every balance exact).

A refund is not a negative payment: money moves out of a balance only under a `kind` that says so,
with a `reason` (a stray minus sign in a top-up must not empty an account):
- `payment` (the default, what every record without `kind` is): `amount` > 0 is added;
- `refund`: money given back, `amount` > 0 is subtracted;
- `correction`: a booking error put right, `amount` signed and not 0 (-5 takes 5 away).
`delta` is what the ledger adds. One id is one record whatever its kind: a refund reusing a
payment's id is the same id with another amount, refused by the ledger as such.

PaymentIn is the one payment rule: the payment stage decides `bad_payment` with it, and the API,
the portal and the `pay` command refuse with it what that stage would refuse, so nothing is
answered "recorded" that never arrives.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pipeline.schemas import field_rules, limits
from pipeline.schemas.reference import ADMIN_ID, AccountIn

MAX_ID_CHARS = 256  # a ledger remembers payment ids: one may not be a megabyte
MAX_REASON_CHARS = 500
PaymentKind = Literal["payment", "refund", "correction"]
KINDS: tuple[str, ...] = ("payment", "refund", "correction")


class PaymentIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: Annotated[str, Field(max_length=MAX_ID_CHARS)]
    account: str
    # before `amount`: its rule depends on the kind
    kind: PaymentKind = "payment"
    amount: Decimal
    reason: Annotated[str, Field(max_length=MAX_REASON_CHARS, validate_default=True)] = ""

    @field_validator("id", "account")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _exact(cls, value, info: ValidationInfo):
        return check_amount(value, info.data.get("kind", "payment"))

    @field_validator("reason")
    @classmethod
    def _reason_when_money_leaves(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        kind = info.data.get("kind", "payment")
        if kind != "payment" and not value:
            raise ValueError(f"a {kind} needs a reason (what the money is for, for the account's statement)")
        return value

    @property
    def delta(self) -> Decimal:
        """What the ledger adds to the balance: a refund's amount taken away, a correction's as signed."""
        return -self.amount if self.kind == "refund" else self.amount

    def published(self) -> dict[str, str]:
        """The record as it goes onto balance.payments (`kind` and `reason` are additive fields:
        a reader that knows only id, account and amount reads a plain payment as before)."""
        return {"id": self.id, "account": self.account, "amount": str(self.amount), "kind": self.kind,
                "reason": self.reason}


def check_amount(value: object, kind: str = "payment") -> Decimal:
    """The amount rule of a kind; raises ValueError naming the rule broken."""
    if kind == "correction":
        return _signed(value)
    try:
        return _magnitude(value)
    except ValueError as exc:
        if _negative(value):  # the mistake this rule exists for: say what to send instead
            raise ValueError(f"{exc}; money taken back is sent as kind \"refund\" (or \"correction\") "
                             "with a positive amount and a reason") from None
        raise


def _magnitude(value: object) -> Decimal:
    return field_rules.decimal_amount(value, what="a payment", places=limits.MONEY_PLACES,
                                      below=limits.PAYMENT_BELOW, positive=True)


def _negative(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().startswith("-")
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value < 0


def _signed(value: object) -> Decimal:
    """A correction: the payment rule on the amount without its one leading minus sign."""
    if isinstance(value, str) and value.strip().startswith("-"):
        rest = value.strip()[1:]
        if rest.startswith(("-", "+")):
            raise ValueError(f'a correction must be a decimal number other than 0, with at most one sign (got "{value[:40]}")')
        return -_correction_magnitude(rest, value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value < 0:
        return -_correction_magnitude(-value, value)
    return _correction_magnitude(value, value)


def _correction_magnitude(magnitude: object, written: object) -> Decimal:
    try:
        return _magnitude(magnitude)
    except ValueError as exc:
        rule = str(exc).split(" (got ", 1)[0]
        if rule.startswith("must be a decimal number > 0"):
            rule = "a correction must be a decimal number other than 0" + rule.removeprefix(
                "must be a decimal number > 0")
        raise ValueError(f'{rule} (got "{str(written)[:40]}")') from None


class AccountLookup(Protocol):
    """The reference book as far as a payment needs it (pipeline.reference.book.ReferenceBook)."""

    def account(self, account_id: str) -> AccountIn | None: ...


def payment_problem(payment: PaymentIn, book: AccountLookup) -> str | None:
    """Why a well-formed payment must still be refused (`bad_payment`), or None: it names an
    account the reference data does not hold, or the admin, who has no balance (docs/domain.md "Balances")."""
    account = book.account(payment.account)
    if account is None:
        return f'account "{payment.account}" is not in the reference data'
    if account.id == ADMIN_ID or account.type == "admin":
        return f'"{payment.account}" is the admin, who has no balance to pay into'
    return None
