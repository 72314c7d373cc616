"""Calling cards in the API (CONTRACT v3 "Calling cards"); the portal's pages are in portal_cards.py.

- `GET /v1/card-groups`, `GET|PUT /v1/card-groups/{id}`: the admin's and each reseller's own
  groups (a user sees none: 404); the write rules are `ref apply`'s (pipeline/cards/rules.py).
- `POST /v1/card-groups/{id}/cards` `{"count", "sold"?}`: a batch, answered as the CSV
  `number,pin,balance` (the only time its PINs are shown); `GET /v1/card-groups/{id}/cards` lists
  them without PINs.
- `GET /v1/cards/{number}`, `POST /v1/cards/{number}/sell|block|unblock`.
A card is also a prepaid account (id = its number): `POST /v1/payments` tops it up and
`GET /v1/balances/{number}` shows its balance, to whoever sees the card's group.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.api import service
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.errors import NotFound, Refused
from pipeline.api.models import DecimalText, Name, Ref
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, sees_card, sees_card_group
from pipeline.cards.batch import (
    Batch,
    CardRefused,
    card_row,
    change_state,
    generate,
)
from pipeline.reference.publish import WriteRefused, check_write
from pipeline.schemas.cards import CardGroupIn, CardIn
from pipeline.schemas.validation_errors import describe_validation_error

router = APIRouter(prefix="/v1")
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]
MAX_API_BATCH = 10_000  # PBKDF2 per card: ~5 s of CPU; the CLI makes larger batches
PAYMENTS_AT_ONCE = 500
CSV_ANSWER = {201: {"description": "the batch: number,pin,balance", "content": {"text/csv": {"schema": {"type": "string"}}}}}


class ExpiryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["none", "date", "after_first_use", "after_creation"] = "none"
    date: Annotated[str, Field(max_length=10)] | None = None
    days: int | None = None


class CardGroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: Ref | None = None
    tariff: Ref
    currency: Annotated[str, Field(max_length=3)] | None = None
    face_value: DecimalText | None = None
    number_length: int | None = None
    pin_length: int | None = None
    setup_fee: DecimalText | None = None
    daily_charge: DecimalText | None = None
    expiry: ExpiryBody | None = None
    simultaneous: bool | None = None
    name: Name | None = None


class CardGroup(BaseModel):
    id: str
    owner: str
    tariff: str
    currency: str
    face_value: str
    number_length: int
    pin_length: int
    setup_fee: str
    daily_charge: str
    expiry: dict[str, Any]
    simultaneous: bool
    name: str
    cards: int
    most_cards: int


class CardsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=1, le=MAX_API_BATCH)]
    sold: bool = False


class Card(BaseModel):
    number: str
    group: str
    state: Literal["new", "sold", "blocked", "expired"]
    balance: str
    currency: str
    first_use: datetime | None
    last_use: datetime | None
    calls: int


class CardListed(BaseModel):
    number: str
    group: str
    state: Literal["new", "sold", "blocked", "expired"]
    balance: str
    currency: str


# what each request does (shared with the portal) --------------------------------------------------

def group_of(backend: Backend, caller: Caller, group_id: str) -> CardGroupIn:
    found = backend.live.book.card_group(group_id)
    return service.shown(found, sees_card_group(caller, found))


def groups_of(backend: Backend, caller: Caller) -> list[CardGroupIn]:
    return sorted((g for g in backend.live.book.card_groups() if sees_card_group(caller, g)), key=lambda g: g.id)


def card_of(backend: Backend, caller: Caller, number: str) -> CardIn:
    found = backend.live.book.card(number)
    return service.shown(found, sees_card(caller, backend.live.book, found))


def group_json(backend: Backend, group: CardGroupIn) -> dict[str, Any]:
    return {**group.model_dump(mode="json", exclude={"kind"}), "cards": backend.live.book.card_count(group.id),
            "most_cards": group.most_cards}


def card_json(backend: Backend, card: CardIn, usage: dict | None = None) -> dict[str, Any]:
    usage = usage or {}
    first_use = usage.get("first_use")
    row = card_row(backend.live.book, card, backend.live.balance(card.number), first_use)
    return {**row, "first_use": first_use, "last_use": usage.get("last_use"), "calls": usage.get("calls", 0)}


def card_usage(backend: Backend, numbers: list[str]) -> dict[str, dict]:
    return backend.calls.usage(numbers) if numbers else {}


async def put_group(backend: Backend, caller: Caller, group_id: str, fields: dict[str, Any]) -> CardGroupIn:
    existing = backend.live.book.card_group(group_id)
    if caller.role == "user" or existing is not None and not sees_card_group(caller, existing):
        raise NotFound()
    fields = {k: v for k, v in fields.items() if v is not None}
    fields.setdefault("owner", caller.account)
    try:
        record = CardGroupIn.model_validate({**fields, "id": group_id, "kind": "card_group"})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None
    await service.write(backend, caller, [record], "put card group")
    return record


async def make_batch(backend: Backend, caller: Caller, group_id: str, count: int, sold: bool) -> Batch:
    """A batch of the caller's group, published (cards and accounts in one transaction, then the
    face values); the audit names the group and the count, never a PIN."""
    group = group_of(backend, caller, group_id)
    if not 1 <= count <= MAX_API_BATCH:
        raise Refused(f"count: from 1 to {MAX_API_BATCH} cards per request (the cards command makes more)")
    try:
        made = await asyncio.to_thread(generate, backend.live.book, group.id, count, sold)
    except CardRefused as exc:
        raise Refused(f"count: {exc}") from None
    await _publish(backend, made.records(), caller.account)
    for start in range(0, len(made.payments), PAYMENTS_AT_ONCE):
        await asyncio.gather(*(backend.writer.publish_payment(dict(p))
                               for p in made.payments[start:start + PAYMENTS_AT_ONCE]))
    await service.audit(backend, caller, "generate cards", f"card group {group.id}",
                        f"{count} card(s), {'sold' if sold else 'new'}, {made.cards[0].number}..")
    return made


async def set_state(backend: Backend, caller: Caller, number: str, action: str) -> CardIn:
    card_of(backend, caller, number)
    try:
        records = change_state(backend.live.book, number, action)
    except CardRefused as exc:
        raise Refused(f"state: {exc}") from None
    await _publish(backend, records, caller.account)
    await service.audit(backend, caller, f"{action} card", f"card {number}")
    return backend.live.book.card(number)


async def _publish(backend: Backend, records: list, writer: str) -> None:
    """Through the write rules, as `ref apply` (not service.write: its audit would name every card)."""
    try:
        check_write(backend.live.book, records, writer)
    except WriteRefused as exc:
        raise Refused(str(exc)) from None
    await backend.writer.publish_reference(records)


# JSON API -------------------------------------------------------------------------------------------

@router.get("/card-groups", response_model=list[CardGroup], tags=["cards"])
def list_groups(caller: CallerDep, backend: BackendDep):
    return [group_json(backend, g) for g in groups_of(backend, caller)]


@router.get("/card-groups/{id}", response_model=CardGroup, tags=["cards"])
def get_group(id: str, caller: CallerDep, backend: BackendDep):
    return group_json(backend, group_of(backend, caller, id))


@router.put("/card-groups/{id}", response_model=CardGroup, tags=["cards"])
async def put_card_group(id: str, body: CardGroupBody, caller: CallerDep, backend: BackendDep):
    """Body: the card group JSON without `kind` and `id` (CONTRACT v3); `owner` defaults to the caller."""
    return group_json(backend, await put_group(backend, caller, id, body.model_dump(exclude_unset=True)))


@router.get("/card-groups/{id}/cards", response_model=list[CardListed], tags=["cards"])
def list_cards(id: str, caller: CallerDep, backend: BackendDep,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    """The group's cards by number (never a PIN): number, state, balance."""
    group = group_of(backend, caller, id)
    cards = backend.live.book.cards_of_group(group.id)[offset:offset + limit]
    return [card_row(backend.live.book, c, backend.live.balance(c.number)) for c in cards]


@router.post("/card-groups/{id}/cards", status_code=201, response_class=Response, responses=CSV_ANSWER,
             tags=["cards"])
async def post_cards(id: str, body: CardsBody, caller: CallerDep, backend: BackendDep):
    """A batch of `count` cards (`sold`: usable at once), answered as CSV number,pin,balance: the
    only time the PINs are shown; only their hashes are kept."""
    made = await make_batch(backend, caller, id, body.count, body.sold)
    return Response(made.csv(), status_code=201, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cards-{made.group.id}.csv"', "Cache-Control": "no-store"})


@router.get("/cards/{number}", response_model=Card, tags=["cards"])
def get_card(number: str, caller: CallerDep, backend: BackendDep):
    card = card_of(backend, caller, number)
    return card_json(backend, card, card_usage(backend, [card.number]).get(card.number))


def _state_route(action: str):
    async def change(number: str, caller: CallerDep, backend: BackendDep):
        card = await set_state(backend, caller, number, action)
        return card_json(backend, card, (await asyncio.to_thread(card_usage, backend, [number])).get(number))

    change.__name__ = f"{action}_card"
    change.__doc__ = {"sell": "A new card becomes sold (usable).",
                      "block": "The card is refused from now on; its account is blocked (running calls end).",
                      "unblock": "A blocked card becomes sold (usable) again."}[action]
    router.post(f"/cards/{{number}}/{action}", response_model=Card, tags=["cards"])(change)


for _action in ("sell", "block", "unblock"):
    _state_route(_action)
