"""The decision for one call, pure: allowed or refused (why), for how long, and which holds.

Rules (docs/authorization.md, after MOR's prepaid logic):
- the paying parties are those the call's CDR would debit (rated_call.debits / did_debits, the
  one place that rule lives), found by pricing the call; the provider is not known before the
  call, so a reseller PRO's hold is taken and settled by the CDR;
- a party's free balance is balance - holds (prepaid), balance + credit_limit - holds (postpaid
  with a limit); a postpaid account without a limit is never held nor limited by money;
- max_seconds is the least over the parties of the longest call each can pay, capped by the
  caller's hold cap; each party is held the price of max_seconds;
- the checks run in the order of the refusal table's causes: who the caller is, blocks, the
  rate, loss and max_rate, simultaneous calls, then money;
- a request without an account names its caller by device (its id, or the SIP user, IP address or
  accountcode the switch saw), resolved as a CDR's device is (pipeline/reference/devices.py); the
  device's own call_limit counts the calls made through it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pipeline.authorize.max_seconds import affordable
from pipeline.authorize.request import ALLOWED, Answer, AuthorizeRequest, refusal
from pipeline.balances.blocking import own_block_reason
from pipeline.rating.chain import rate_call
from pipeline.rating.did import rate_did_call
from pipeline.rating.rated_call import CallToRate, NotRated, RatedCall
from pipeline.reference.devices import Caller, resolve_caller
from pipeline.schemas.reference import ADMIN_ID

_ZERO = Decimal(0)
_MINUTE = 60


@dataclass(frozen=True)
class Live:
    """What the authorizer knows besides the reference data, as read-only maps."""

    balances: Mapping[str, Decimal]  # the ledgers' balances (balance.updates)
    held: Mapping[str, Decimal]  # account -> the sum of its holds
    calls: Mapping[str, int]  # account -> its calls authorized and not yet ended
    reseller_calls: Mapping[str, int]  # reseller -> his users' calls authorized and not yet ended
    device_calls: Mapping[str, int] = field(default_factory=dict)  # device id -> its calls not yet ended


def decide(request: AuthorizeRequest, book, live: Live, now: datetime, default_cap: int) -> Answer:
    device, device_tried = None, ""
    if not request.account and request.names_a_device and getattr(book, "devices", None) is not None:
        found = resolve_caller(book, request.server_id, request.device_keys, request.device)
        if isinstance(found, Caller):
            device = found.device
            request = request.model_copy(update={"account": found.account})
        else:
            device_tried = f"; {found}"
    answer = _decide(request, book, live, now, default_cap, device, device_tried)
    return answer if device is None else Answer(**{**answer.__dict__, "device": device.id})


def _decide(request: AuthorizeRequest, book, live: Live, now: datetime, default_cap: int, device,
            device_tried: str) -> Answer:
    account_id = request.account
    account = book.account(account_id) if account_id else None
    did = request.did_digits or None
    # a call from outside to one of our DIDs has no caller of ours: only the DID's owner may pay (a
    # device id or a card names one of ours; SIP user, IP or accountcode that match no device, as on
    # a CDR, are an outside caller's)
    from_outside = did is not None and not account_id and not (request.device or request.card)
    if not from_outside and (account is None or account.type == "admin"):
        tried = ", ".join(f"{name} {value!r}" for name, value in (
            ("account", request.account), ("device", request.device), ("sip_user", request.sip_user),
            ("ip", request.ip), ("accountcode", request.accountcode), ("card", request.card), ("src", request.src))
            if value) or "no account, device, card or caller id"
        return refusal("unknown_account", account_id, f"no account of ours matches ({tried}){device_tried}")
    ancestors = book.ancestors(account_id) if account is not None else []
    reseller = next((a.id for a in ancestors if a.type == "reseller"), "")

    if account is not None and account.archived:  # the guard's reason "archived"; MOR's blocked user
        return refusal("blocked", account_id, f"account {account_id!r} is archived")
    if account is not None and account.blocked:
        return refusal("blocked", account_id, f"account {account_id!r} is blocked by hand")
    for ancestor in ancestors:
        if ancestor.archived:
            return refusal("reseller_blocked", account_id, f"{ancestor.id!r} above {account_id!r} is archived")
        if ancestor.blocked:
            return refusal("reseller_blocked", account_id, f"{ancestor.id!r} above {account_id!r} is blocked by hand")

    start = request.setup_time or now

    def priced(seconds: int) -> RatedCall | NotRated:
        call = CallToRate(request.server_id, request.call_id, account_id, request.dst_dialled, start, seconds,
                          True, None)
        return rate_call(call, book) if did is None else rate_did_call(call, did, book)

    minute = priced(_MINUTE)
    if isinstance(minute, NotRated):
        reason = "unknown_account" if minute.reason == "unknown_account" else "no_rate"
        return refusal(reason, account_id, minute.detail)
    currency = minute.currency
    if did is None:
        if account.max_rate is not None and minute.user.rate > account.max_rate:
            return refusal("max_rate", account_id, f"dst {request.dst_dialled} costs {minute.user.rate}/min, more than "
                           f"the account's max_rate {account.max_rate}", currency)
        # MOR's "allow loss calls" is the user's; the reseller's own flag (rating) allows it too
        if minute.loss and not account.allow_loss_calls and minute.reseller is not None and \
                minute.reseller.price > minute.user.price:
            return refusal("loss_call", account_id, f"the user's price {minute.user.price}/min is below his reseller's "
                           f"{minute.reseller.price}/min and loss calls are not allowed", currency)

    if device is not None and device.call_limit and live.device_calls.get(device.id, 0) >= device.call_limit:
        return refusal("call_limit", account_id, f"device {device.id!r} has {device.call_limit} simultaneous calls "
                       "already", currency)
    if account is not None and account.call_limit and live.calls.get(account_id, 0) >= account.call_limit:
        return refusal("call_limit", account_id, f"{account.call_limit} simultaneous calls already", currency)
    reseller_account = book.account(reseller) if reseller else None
    if reseller_account is not None and reseller_account.call_limit and \
            live.reseller_calls.get(reseller, 0) >= reseller_account.call_limit:
        return refusal("reseller_call_limit", account_id,
                       f"reseller {reseller!r}'s users have {reseller_account.call_limit} simultaneous calls already",
                       currency)

    cap = (account.hold_cap_seconds if account is not None else None) or default_cap
    payers = [party for party, _ in minute.charges() if party and party != ADMIN_ID]
    for ancestor in ancestors:  # one that pays is judged by his money below; one that does not, here
        if ancestor.id not in payers and ancestor.type != "admin" and \
                own_block_reason(ancestor, live.balances.get(ancestor.id, _ZERO)) is not None:
            return refusal("reseller_blocked", account_id, f"{ancestor.id!r} above {account_id!r} is out of money",
                           currency)
    free = {party: _free(book.account(party), live) for party in payers}
    order = tuple(payers)  # the caller first, then whoever is above him or owns the DID

    def owed(seconds: int) -> dict[str, Decimal]:
        rated = priced(seconds)
        if isinstance(rated, NotRated):  # the reference data cannot change mid-decision; be safe
            raise ValueError(rated.detail)
        return dict(rated.charges())

    limit = affordable(owed, free, cap, order)
    caller_free = free.get(account_id)
    if limit.max_seconds == 0:
        short = limit.short or account_id
        first_price = owed(limit.first_billable or 1).get(short, _ZERO)
        if short == account_id and caller_free is not None:
            unheld = caller_free + live.held.get(account_id, _ZERO)
            reason = "low_balance" if first_price > unheld else "no_free_balance"
        elif short in {a.id for a in ancestors}:
            reason = "low_balance_reseller"
        else:
            reason = "low_balance_owner"
        return refusal(reason, account_id, f"{short!r} cannot pay the first billable {limit.first_billable} s "
                       f"({first_price} {currency}; free {free[short]})", currency, caller_free)
    holds = {party: amount for party, amount in owed(limit.max_seconds).items()
             if free.get(party) is not None and amount > _ZERO}
    return Answer(True, limit.max_seconds, ALLOWED, account_id, currency, holds, caller_free)


def _free(account, live: Live) -> Decimal | None:
    """What the account may still spend; None when money never limits it."""
    if account is None or account.type == ADMIN_ID:
        return None
    balance = live.balances.get(account.id, _ZERO) - live.held.get(account.id, _ZERO)
    if account.billing == "prepaid":
        return balance
    if account.credit_limit is None:
        return None
    return balance + account.credit_limit
