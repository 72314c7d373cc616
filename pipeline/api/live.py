"""LiveData: what an API instance knows from Kafka, kept current by reading the topics.

Filled topic by topic (kafka_backend.Follower does that; tests fill it directly). Nothing here
is the API's own state: every field is rebuilt from the topics when an instance starts.
- the reference book from ref.* (the same records the rating workers read),
- credentials from ref.credentials,
- balances from balance.updates and states from switch.control: the feeds the balance guard and
  the switches use, so the API shows what the switch enforces,
- branding (issuer details and logos) from the invoices' topics, when present.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from pipeline.api.credentials import CredentialIndex
from pipeline.api.destination_book import DestinationBook
from pipeline.invoices.issuer import CONTENT_TYPE_HEADER
from pipeline.kafka.topics import (
    BALANCE_UPDATES,
    REF_CREDENTIALS,
    REF_ISSUERS,
    REF_LOGOS,
    STATE_AUTH_CALLS,
    SWITCH_CONTROL,
)
from pipeline.reference.book import ReferenceBook
from pipeline.reference.feed import KIND_OF_TOPIC
from pipeline.reference.records import parse_reference_record
from pipeline.schemas import wire

log = logging.getLogger(__name__)

# the authorizer's records (pipeline/stages/authorize_calls.py): the money held for running calls
STATE_TOPICS = (BALANCE_UPDATES, SWITCH_CONTROL, STATE_AUTH_CALLS)


@dataclass(frozen=True)
class Branding:
    account: str
    name: str
    logo_type: str | None = None
    logo: bytes | None = None


@dataclass
class LiveData:
    book: ReferenceBook = field(default_factory=DestinationBook)  # with the rates' destination names
    credentials: CredentialIndex = field(default_factory=CredentialIndex)
    balances: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # account -> (seq, balance)
    states: dict[str, dict] = field(default_factory=dict)
    issuers: dict[str, dict] = field(default_factory=dict)
    logos: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    holds_of_call: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # call -> holds in force
    held: dict[str, Decimal] = field(default_factory=dict)  # account -> the sum of his holds

    def apply(self, topic: str, key: bytes | None, value: bytes | None, headers=()) -> None:
        """One message of one topic (its contract name, without the prefix)."""
        ident = (key or b"").decode()
        try:
            if topic in KIND_OF_TOPIC:
                if value:
                    self.book.apply(parse_reference_record(orjson.loads(value)))
                else:
                    self.book.delete(KIND_OF_TOPIC[topic], ident)
            elif topic == REF_CREDENTIALS:
                self.credentials.apply(ident, value)
            elif topic == BALANCE_UPDATES and value:
                update = wire.decode("balance_update.v1", value)
                if update["seq"] >= self.balances.get(update["account"], (-1, None))[0]:
                    self.balances[update["account"]] = (update["seq"], Decimal(update["balance"]))
            elif topic == STATE_AUTH_CALLS:
                self._take_holds(ident, orjson.loads(value)["holds"] if value else {})
            elif topic == SWITCH_CONTROL:
                _put(self.states, ident, orjson.loads(value) if value else None)
            elif topic == REF_ISSUERS:
                _put(self.issuers, ident, orjson.loads(value) if value else None)
            elif topic == REF_LOGOS:
                content_type = dict(headers or ()).get(CONTENT_TYPE_HEADER, b"image/png").decode()
                _put(self.logos, ident, (content_type, value) if value else None)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("ignoring unreadable %s record %r: %s", topic, ident, exc)

    def balance(self, account: str) -> Decimal:
        return self.balances.get(account, (0, Decimal(0)))[1]

    def _take_holds(self, call: str, holds: dict[str, str]) -> None:
        """A call's record from the authorizer: its holds still in force replace what it had."""
        for account, amount in self.holds_of_call.pop(call, {}).items():
            left = self.held.get(account, Decimal(0)) - amount
            if left:
                self.held[account] = left
            else:
                self.held.pop(account, None)
        now = {account: Decimal(amount) for account, amount in holds.items()}
        if now:
            self.holds_of_call[call] = now
            for account, amount in now.items():
                self.held[account] = self.held.get(account, Decimal(0)) + amount

    def branding(self, account: str | None) -> Branding | None:
        """The reseller whose brand heads this account's pages: himself, or a user's reseller."""
        if account is None:
            return None
        found = self.book.account(account)
        if found is not None and found.type == "user" and found.parent:
            found = self.book.account(found.parent)
        if found is None or found.type != "reseller":
            return None
        issuer = self.issuers.get(found.id) or {}
        name = issuer.get("company") or found.name or found.id
        logo = self.logos.get(found.id)
        return Branding(found.id, str(name), *(logo or (None, None)))


def _put(target: dict, key: str, value) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
