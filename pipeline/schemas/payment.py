"""A payment on balance.payments: `{"id", "account", "amount"}` (CONTRACT.md).

The amount is checked where it enters, so the ledger never meets a number it cannot add exactly:
a decimal string (or a JSON integer) of the ASCII digits 0-9, > 0, at most 6 decimal places, at
most 28 significant digits (no exponent: "1E+1000000" would overflow the ledger's Decimal
arithmetic), and below 10^12 (limits.PAYMENT_BELOW says why that keeps every balance exact).
A refund is not a negative payment: it will be its own kind.

PaymentIn is the one payment rule: the payment stage decides `bad_payment` with it, and the API,
the portal and the `pay` command refuse with it what that stage would refuse, so nothing is
answered "recorded" that never arrives.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.rating import rules
from pipeline.rating.reference import ADMIN_ID
from pipeline.schemas import limits

if TYPE_CHECKING:
    from pipeline.rating.book import ReferenceBook

MAX_ID_CHARS = 256  # a ledger remembers payment ids: one may not be a megabyte


class PaymentIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: Annotated[str, Field(max_length=MAX_ID_CHARS)]
    account: str
    amount: Decimal

    @field_validator("id", "account")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _exact(cls, value):
        return check_amount(value)


def check_amount(value: object) -> Decimal:
    """The amount rule; raises ValueError naming the rule broken."""
    return rules.decimal_amount(value, what="a payment", places=limits.MONEY_PLACES,
                                below=limits.PAYMENT_BELOW, positive=True)


def payment_problem(payment: PaymentIn, book: ReferenceBook) -> str | None:
    """Why a well-formed payment must still be refused (`bad_payment`), or None: it names an
    account the reference data does not hold, or the admin, who has no balance (DOMAIN.md)."""
    account = book.account(payment.account)
    if account is None:
        return f'account "{payment.account}" is not in the reference data'
    if account.id == ADMIN_ID or account.type == "admin":
        return f'"{payment.account}" is the admin, who has no balance to pay into'
    return None
