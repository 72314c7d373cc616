"""A tariff's rates one by one, and archiving accounts and tariffs, under /v1.

- `GET /v1/tariffs/{id}/rates`: searched (prefix, number, destination name, status) and paged; with
  `Accept: text/csv` or `?format=csv` the CSV the rate loader reads (`PUT .../rates` takes it back);
  for whoever sees the tariff (its owner, the admin; a reseller his buy tariff, read-only);
- `POST /v1/tariffs/{id}/rates`: one rate version added, or replaced when its prefix,
  effective_from, day type and window are those of an existing one;
- `DELETE /v1/tariffs/{id}/rates?prefix=...`: one version removed (or every version of a prefix);
- `POST /v1/tariffs/{id}/archive|unarchive`, `POST /v1/accounts/{id}/archive|unarchive`.
Rates have no end date: a version lasts until a newer one of its prefix starts (rate_listing.py).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict

from pipeline.api import rate_service, service
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.destination_book import destination_names
from pipeline.api.models import Account, RateBody, Tariff
from pipeline.api.rate_listing import RateSearch, rates_csv, row_json, versions
from pipeline.api.routes_v1 import account_json, tariff_json
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller
from pipeline.schemas import field_rules, limits

router = APIRouter(prefix="/v1")
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]
PrefixText = Annotated[str, Query(max_length=limits.MAX_PREFIX_LENGTH)]
CSV_RESPONSE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


class Rate(BaseModel):
    """A rate version as stored, money as exact decimal text, with what the lookup does with it now."""
    model_config = ConfigDict(extra="allow")  # what a rate may carry besides (tiers)

    prefix: str
    rate: str
    connection_fee: str
    increment: int
    min_time: int
    grace_time: int
    effective_from: str
    day_type: Literal["WD", "FD", "all"]
    start: str
    end: str
    destination: str = ""
    status: Literal["current", "scheduled", "superseded"]


class RatesPage(BaseModel):
    tariff: str
    currency: str
    total: int
    rates: list[Rate]
    next_offset: int | None


def _search(prefix: str, number: str, destination: str, status: str | None) -> RateSearch:
    return RateSearch(prefix=prefix, number=number, destination=destination.strip(), status=status or "")


@router.get("/tariffs/{id}/rates", response_model=RatesPage, responses=CSV_RESPONSE, tags=["tariffs"])
def get_rates(id: str, request: Request, caller: CallerDep, backend: BackendDep,
              prefix: Annotated[PrefixText, Query(description="prefixes starting with this")] = "",
              number: Annotated[str, Query(max_length=64, description="the prefixes a call to this number "
                                                                    "could take (each a start of it)")] = "",
              destination: Annotated[str, Query(max_length=limits.MAX_DESTINATION_LENGTH,
                                                description="destination names containing this")] = "",
              status: Annotated[Literal["current", "scheduled", "superseded"] | None, Query()] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
              format: Literal["json", "csv"] | None = None):
    """The tariff's rate versions by prefix (and within a prefix newest first), with their status;
    `format=csv` (or `Accept: text/csv`) gives every matching version in the rate loader's columns."""
    search = _search(prefix, number, destination, status)
    wants_csv = format == "csv" or format is None and "text/csv" in request.headers.get("accept", "")
    if wants_csv:
        tariff = service.tariff(backend, caller, id)
        book = backend.live.book
        body = rates_csv(book.tariff_index(tariff.id), search, rate_service.now(), destination_names(book, tariff.id))
        return PlainTextResponse(body, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{_file_name(tariff.id)}-rates.csv"'})
    return rate_service.rates_page(backend, caller, id, search, limit, offset)


def _file_name(tariff_id: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in tariff_id)[:100] or "tariff"


@router.post("/tariffs/{id}/rates", response_model=Rate, tags=["tariffs"])
async def post_rate(id: str, body: RateBody, caller: CallerDep, backend: BackendDep):
    """Adds one rate version to the tariff, or replaces the version with the same prefix,
    effective_from, day_type and window. To change a price from a date, post the new version with
    that effective_from: the current one applies until then."""
    rate = await rate_service.put_rate(backend, caller, id, body.model_dump(exclude_none=True))
    return _stored(backend, id, rate)


def _stored(backend: Backend, tariff_id: str, rate) -> dict[str, Any]:
    """The version as the listing shows it now (its status among its prefix's versions)."""
    index = backend.live.book.tariff_index(tariff_id)
    epoch = field_rules.epoch_seconds(rate_service.now())
    key = (field_rules.epoch_seconds(rate.effective_from), rate.day_type)
    names = destination_names(backend.live.book, tariff_id)
    for row in versions(rate.prefix, index.versions(rate.prefix) if index else (), epoch, names):
        if (row.rate.effective_epoch, row.rate.day_type) == key and row.rate.start_second == _second(rate.start) \
                and row.rate.end_second == _second(rate.end):
            return row_json(row)
    raise AssertionError("a written rate is in the book once the write is answered")


def _second(moment) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


@router.delete("/tariffs/{id}/rates", response_model=Tariff, tags=["tariffs"])
async def delete_rate(id: str, caller: CallerDep, backend: BackendDep,
                      prefix: Annotated[PrefixText, Query(description="the version's prefix (empty: the catch-all)")],
                      effective_from: Annotated[str | None, Query(max_length=64)] = None,
                      day_type: Literal["WD", "FD", "all"] | None = None,
                      start: Annotated[str | None, Query(max_length=16)] = None,
                      end: Annotated[str | None, Query(max_length=16)] = None,
                      every_version: Annotated[bool, Query(description="every version of the prefix")] = False):
    """Removes the version with this prefix, effective_from, day_type and window (the defaults of
    a rate for those left out), or every version of the prefix; calls then take the next shorter
    prefix. 404 when the tariff has no such version."""
    fields = {"prefix": prefix, "effective_from": effective_from, "day_type": day_type, "start": start, "end": end}
    record = await rate_service.remove_rate(backend, caller, id, fields, every_version)
    return tariff_json(backend, record)


@router.post("/tariffs/{id}/archive", response_model=Tariff, tags=["tariffs"])
async def archive_tariff(id: str, caller: CallerDep, backend: BackendDep):
    """Hidden from lists, given to nothing new, kept for the calls and invoices that name it;
    refused (422) while an account, provider, card group or DID that is not archived is on it."""
    return tariff_json(backend, await rate_service.archive_tariff(backend, caller, id, True))


@router.post("/tariffs/{id}/unarchive", response_model=Tariff, tags=["tariffs"])
async def unarchive_tariff(id: str, caller: CallerDep, backend: BackendDep):
    return tariff_json(backend, await rate_service.archive_tariff(backend, caller, id, False))


@router.post("/accounts/{id}/archive", response_model=Account, tags=["accounts"])
async def archive_account(id: str, caller: CallerDep, backend: BackendDep):
    """Kept for its calls and invoices, never deleted: blocked (reason `archived`), cannot sign in,
    its sessions end and its tokens are revoked; refused (422) while accounts that are not archived
    are under it or it holds DIDs."""
    return account_json(await rate_service.archive_account(backend, caller, id, True))


@router.post("/accounts/{id}/unarchive", response_model=Account, tags=["accounts"])
async def unarchive_account(id: str, caller: CallerDep, backend: BackendDep):
    """Active again (its old sessions and tokens stay ended: set a password, create a token)."""
    return account_json(await rate_service.archive_account(backend, caller, id, False))

