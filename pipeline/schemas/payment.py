"""A payment on balance.payments: `{"id", "account", "amount"}` (CONTRACT.md)."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, field_validator


class PaymentIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
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
        # 0.1 as a JSON number is already inexact by the time we see it: money is a decimal string
        if isinstance(value, float):
            raise ValueError("money must be a decimal string, not a float")
        return value

    @field_validator("amount")
    @classmethod
    def _finite_nonzero(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value == 0:
            raise ValueError("must be a non-zero decimal number")
        return value
