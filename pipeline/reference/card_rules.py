"""Who may write card groups and cards, and what must hold once they are written (docs/cards.md). Called by the reference write rules (pipeline.reference.ownership,
pipeline.reference.consistency) with their graph, so `ref apply`, the cards CLI and the API refuse
the same records with the same sentences, as pipeline/alerts/rules.py does for alerts.

- A group belongs to the admin or a reseller and its cards pay by a tariff of that owner (as a
  reseller's users do), in the tariff's currency.
- A card is in an existing group, with a number of the group's length, and the account of that id
  (what the card pays through, records.card_account) is nobody else's: a user of the group's owner
  on the group's tariff.
- Once a group has cards, its owner and tariff stay: its cards' accounts hang under that owner on
  that tariff (make another group instead).
"""
from __future__ import annotations

from pipeline.reference.graph import RefGraph
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.reference import AccountIn

ADMIN_ID = "admin"


def writer_rule(graph: RefGraph, record: CardGroupIn | CardIn, writer: str) -> str | None:
    """A reseller writes only his own groups and the cards of his own groups."""
    if writer == ADMIN_ID:
        return None
    if isinstance(record, CardGroupIn):
        if record.owner != writer:
            return f'reseller "{writer}" may only write card groups of his own (card group "{record.id}")'
        old = graph.record("card_group", record.id)
        if old is not None and old.owner != writer:
            return f'reseller "{writer}" may only write card groups of his own: card group "{record.id}" is another\'s'
        return None
    group = graph.record("card_group", record.group)
    old = graph.record("card", record.number)
    old_group = None if old is None else graph.record("card_group", old.group)
    if group is None or group.owner != writer or old is not None and (old_group is None or old_group.owner != writer):
        return f'reseller "{writer}" may only write cards of his own card groups (card "{record.number}")'
    return None


def consistency_rule(graph: RefGraph, record: CardGroupIn | CardIn) -> str | None:
    if isinstance(record, CardGroupIn):
        return group_rule(graph, record)
    return card_rule(graph, record)


def group_rule(graph: RefGraph, group: CardGroupIn) -> str | None:
    where = f'card group "{group.id}"'
    owner = graph.account(group.owner)
    if owner is None or owner.type not in ("admin", "reseller"):
        return f'{where}: owner "{group.owner}" must be the admin or a reseller'
    tariff = graph.tariff(group.tariff)
    if tariff is None:
        return f'{where}: tariff "{group.tariff}" does not exist'
    if tariff.owner != group.owner:
        return (f'{where} of "{group.owner}" needs a tariff of that owner (what its cards pay him); '
                f'tariff "{tariff.id}" belongs to "{tariff.owner}"')
    if tariff.currency != group.currency:
        return f'{where} is in {group.currency}, its tariff "{tariff.id}" in {tariff.currency}'
    for number in graph.linked("group_cards", group.id)[:1]:  # every card's account was written alike
        account = graph.account(number)
        if account is not None and (account.parent != group.owner or account.tariff != group.tariff):
            return (f'{where} has cards (card "{number}" pays as a user of "{account.parent}" on tariff '
                    f'"{account.tariff}"), so its owner and tariff cannot change: make a new group')
    return None


def card_rule(graph: RefGraph, card: CardIn) -> str | None:
    where = f'card "{card.number}"'
    group = graph.record("card_group", card.group)
    if group is None:
        return f'{where}: card group "{card.group}" does not exist'
    if len(card.number) != group.number_length:
        return f'{where}: card group "{group.id}" has numbers of {group.number_length} digits, not {len(card.number)}'
    return _account_is_the_cards(graph.account(card.number), card, group)


def account_rule(graph: RefGraph, account: AccountIn) -> str | None:
    """An account whose id is a card's number is that card's: it stays a user of the group's owner
    on the group's tariff."""
    card = graph.record("card", account.id)
    group = None if card is None else graph.record("card_group", card.group)
    if group is None:
        return None
    return _account_is_the_cards(account, card, group)


def _account_is_the_cards(account: AccountIn | None, card: CardIn, group: CardGroupIn) -> str | None:
    if account is None or account.type == "user" and account.parent == group.owner and account.tariff == group.tariff:
        return None
    whose = f'a {account.type}' + (f' of "{account.parent}"' if account.parent else "")
    return (f'card "{card.number}" of card group "{group.id}" pays through account "{card.number}", which must be '
            f'a user of "{group.owner}" on tariff "{group.tariff}"; that account is {whose} on tariff '
            f'"{account.tariff}"')
