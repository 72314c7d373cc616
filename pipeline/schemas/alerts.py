"""An alert definition (CONTRACT v3 "Alerts"): a reference record of kind `alert`, on ref.alerts.

One metric of one scope over a sliding window, compared with a threshold; edge-triggered: it fires
once when the value crosses the threshold and clears once it is back past the clear threshold.
Pure: no Kafka, no Faust. The rules that need other records (who may watch whom) are in
`pipeline.reference.alert_rules`.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# The windows an alert may use. Each is one Faust windowed table (pipeline/agents/tables.py) of
# BUCKETS tumbling buckets, so the set is fixed when the alerts worker starts: a new size would be
# a new table and changelog topic. The sliding value is the sum of the last BUCKETS buckets.
WINDOW_SIZES = (60, 300, 900, 3600, 14400, 86400)
BUCKETS = 6
METRICS = ("calls", "answered", "failed", "asr", "acd", "billsec_sum", "price_sum", "short_call_ratio",
           "simultaneous_calls")
# metrics counted from the calls on cdr.rated; simultaneous_calls comes from auth.holds
CALL_METRICS = frozenset(METRICS) - {"simultaneous_calls"}
ACCOUNT_SCOPES = ("account", "reseller_users", "all_users")  # scopes whose targets are accounts


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError("must be a number or a decimal string")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"must be a number or a decimal string (got {str(value)[:40]!r})") from None
    if not number.is_finite() or number < 0 or number >= Decimal(10) ** 12:
        raise ValueError("must be at least 0 and below 10^12")
    if int(number.as_tuple().exponent) < -6:  # an int: the number is finite
        raise ValueError("at most 6 decimals")
    return number


def _digits(value: object) -> str:
    # as field_rules.digits, but "" is refused too
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise ValueError("must be a string of digits 0-9")
    return value


Amount = Annotated[Decimal, BeforeValidator(_decimal)]
Digits = Annotated[str, BeforeValidator(_digits)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertScope(_Frozen):
    type: Literal["account", "reseller_users", "all_users", "provider", "prefix"]
    id: Annotated[str, Field(min_length=1, max_length=200)] | None = None  # account, reseller or provider
    prefix: Annotated[Digits, Field(min_length=1, max_length=40)] | None = None
    billing: Literal["prepaid", "postpaid"] | None = None  # all_users: only accounts that pay so

    @model_validator(mode="after")
    def _fields_of_the_type(self) -> AlertScope:
        if self.type in ("account", "reseller_users", "provider") and self.id is None:
            raise ValueError(f"a {self.type} scope names its id")
        if self.type == "prefix" and self.prefix is None:
            raise ValueError("a prefix scope names its prefix (digits)")
        if self.type not in ("account", "reseller_users", "provider") and self.id is not None:
            raise ValueError(f"a {self.type} scope has no id")
        if self.type != "prefix" and self.prefix is not None:
            raise ValueError(f"a {self.type} scope has no prefix")
        return self


class AlertIn(_Frozen):
    kind: Literal["alert"] = "alert"
    id: Annotated[str, Field(min_length=1)]
    owner: Annotated[str, Field(min_length=1)] = "admin"
    scope: AlertScope
    metric: Literal["calls", "answered", "failed", "asr", "acd", "billsec_sum", "price_sum", "short_call_ratio",
                    "simultaneous_calls"]
    window_seconds: int
    op: Literal[">", "<"]
    threshold: Amount  # asr and short_call_ratio in %, acd and billsec_sum in seconds, price_sum in money
    clear_threshold: Amount | None = None  # default: the threshold itself
    min_calls: Annotated[int, Field(ge=0, le=1_000_000)] = 0  # fewer calls in the window: not judged
    action: Literal["notify", "block"] = "notify"
    webhook: str | None = None  # POSTed every event of the alert (any action)
    # additions of our own (optional, with defaults): a block is lifted by hand unless `on_clear`;
    # a call is short when its billsec is below short_seconds; a disabled alert watches nothing
    lift: Literal["manual", "on_clear"] = "manual"
    short_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> AlertIn:
        if self.window_seconds not in WINDOW_SIZES:
            raise ValueError("window_seconds must be one of " + ", ".join(map(str, WINDOW_SIZES)))
        if self.metric == "simultaneous_calls" and self.scope.type not in ACCOUNT_SCOPES:
            raise ValueError("simultaneous_calls is counted per account: scope account, reseller_users or all_users")
        if self.action == "block" and self.scope.type == "provider":
            raise ValueError("a provider scope cannot block (its targets are providers, not accounts): use notify")
        if self.metric in ("asr", "short_call_ratio") and self.threshold > 100:
            raise ValueError(f"{self.metric} is a percentage: threshold at most 100")
        if self.clear_threshold is not None:
            if self.op == ">" and self.clear_threshold > self.threshold:
                raise ValueError("with op '>' the clear_threshold is at most the threshold")
            if self.op == "<" and self.clear_threshold < self.threshold:
                raise ValueError("with op '<' the clear_threshold is at least the threshold")
        if self.webhook is not None:
            url = urlparse(self.webhook)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ValueError("webhook must be an http:// or https:// URL")
        return self

    @property
    def clears_at(self) -> Decimal:
        return self.threshold if self.clear_threshold is None else self.clear_threshold

    @property
    def bucket_seconds(self) -> int:
        return self.window_seconds // BUCKETS
