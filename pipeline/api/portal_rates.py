"""The tariff page's rates: listed with search and paging, one rate added or changed, a version
removed, the CSV download, archiving; for a reseller's own tariff the "your cost" column (what the
admin charges him for the same destination now, from his buy tariff) and the margin.

Every act goes through rate_service.py / service.py as the JSON API's do, so the page can do
nothing the API would refuse. A rate has no end date: "change from a date" adds the version that
replaces it then (rate_listing.py).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from pipeline.api import portal_manage, rate_service, service
from pipeline.api.auth import backend_of
from pipeline.api.destination_book import destination_names
from pipeline.api.errors import Refused
from pipeline.api.portal import NOTICES, manager, posted, redirect
from pipeline.api.rate_listing import STATUSES, RateSearch, cost_of, page, rates_csv, row_json, versions
from pipeline.api.visibility import Caller
from pipeline.schemas import field_rules, limits
from pipeline.schemas.reference import TariffIn

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
RATE_FORM_FIELDS = ("prefix", "rate", "connection_fee", "increment", "min_time", "grace_time", "effective_from",
                    "day_type", "start", "end", "destination")
# the notices of these pages' redirects, beside the portal's own
NOTICES.update({"rate": "Rate saved.", "rate-removed": "Rate removed.", "archived": "Archived.",
                "unarchived": "Unarchived: it can be assigned again."})


def _search(request: Request) -> tuple[RateSearch, int]:
    """The page's search from its query string; what does not fit a field is cut, never a 500."""
    query = request.query_params
    status = query.get("status", "")
    try:
        offset = max(0, min(int(query.get("offset", "0")), 10_000_000))
    except ValueError:
        offset = 0
    search = RateSearch(prefix=query.get("prefix", "").strip()[:limits.MAX_PREFIX_LENGTH],
                        number=query.get("number", "").strip()[:64],
                        destination=query.get("destination", "").strip()[:limits.MAX_DESTINATION_LENGTH],
                        status=status if status in STATUSES else "")
    return search, offset


def cost_tariff(backend, tariff: TariffIn) -> TariffIn | None:
    """The tariff the owner of a reseller's tariff buys on (the admin's, assigned to him)."""
    owner = backend.live.book.account(tariff.owner)
    if owner is None or owner.type != "reseller" or not owner.tariff:
        return None
    return backend.live.book.tariff(owner.tariff)


def rates_context(request: Request, caller: Caller, tariff: TariffIn, typed: dict | None = None) -> dict[str, Any]:
    """What the tariff page (tariff.html, _rates.html) shows of the rates; `typed`: the rate form's
    values as sent, when the page comes back with an error."""
    backend = backend_of(request)
    book = backend.live.book
    search, offset = _search(request)
    now = rate_service.now()
    names = destination_names(book, tariff.id)
    found, total = page(book.tariff_index(tariff.id), search, now, PAGE_SIZE, offset, names)
    buy = cost_tariff(backend, tariff) if caller.role != "user" else None
    buy_index = book.tariff_index(buy.id) if buy is not None else None
    epoch = field_rules.epoch_seconds(now)
    rows = []
    for row in found:
        shown = row_json(row)
        cost = cost_of(buy_index, row.prefix, epoch, book.holiday_days) if buy_index is not None else None
        if cost is not None:
            shown["cost"] = format(cost.rate, "f")
            shown["margin"] = format(row.rate.rate - cost.rate, "f")
            shown["loss"] = row.rate.rate < cost.rate
        shown["key"] = urlencode({"edit_prefix": row.prefix, "edit_from": shown["effective_from"],
                                  "edit_day": row.rate.day_type, "edit_start": shown["start"],
                                  "edit_end": shown["end"]})
        rows.append(shown)
    query = {k: v for k, v in (("prefix", search.prefix), ("number", search.number),
                               ("destination", search.destination), ("status", search.status)) if v}
    return {"rates": rows, "rates_total": total, "search": search, "offset": offset, "page_size": PAGE_SIZE,
            "search_query": urlencode(query), "cost_tariff": buy,
            "rates_editable": tariff.owner == caller.account and not tariff.archived,
            "rate_form": typed if typed is not None else _edit_form(request, book.tariff_index(tariff.id), now, names),
            "statuses": STATUSES}


def _edit_form(request: Request, index, now, names) -> dict[str, str]:
    """The add/change form's values: empty, or the version named by the edit link (prefilled)."""
    query = request.query_params
    if "edit_prefix" not in query or index is None:
        return {}
    try:
        from_epoch = field_rules.epoch_seconds(field_rules.instant(query.get("edit_from", "")))
    except ValueError:
        return {}
    prefix = query.get("edit_prefix", "")
    for row in versions(prefix, index.versions(prefix), field_rules.epoch_seconds(now), names):
        shown = row_json(row)
        if row.rate.effective_epoch == from_epoch and row.rate.day_type == query.get("edit_day") and \
                shown["start"] == query.get("edit_start") and shown["end"] == query.get("edit_end"):
            return {**{k: str(v) for k, v in shown.items() if k in RATE_FORM_FIELDS},
                    "effective_from": _local_input(row.rate.effective_epoch), "editing": "yes"}
    return {}


def _local_input(epoch: int) -> str:
    """A datetime-local input's value (UTC, to the second)."""
    return (field_rules.EPOCH + timedelta(seconds=epoch)).isoformat()[:19]


def _rate_fields(form: dict[str, Any]) -> dict[str, Any]:
    fields = {name: str(form.get(name, "")).strip() for name in RATE_FORM_FIELDS}
    return {name: value for name, value in fields.items() if value != "" or name in ("prefix", "destination")}


def _tariff_page(request: Request, caller: Caller, csrf: str, tariff_id: str, error: str, typed=None):
    """The tariff page again (portal_manage's), with the error and the rate form as it was sent."""
    return portal_manage._tariff_page(request, caller, csrf, tariff_id, 422, error=error, typed=typed)


@router.post("/tariffs/{tariff_id}/rate")
async def save_rate(request: Request, tariff_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    service.tariff(backend, caller, tariff_id)  # 404 before reading the form
    form = await posted(request, csrf)
    try:
        rate = await rate_service.put_rate(backend, caller, tariff_id, _rate_fields(form))
    except Refused as exc:
        typed = {name: str(form.get(name, "")) for name in RATE_FORM_FIELDS}
        return _tariff_page(request, caller, csrf, tariff_id, exc.detail, {**typed, "editing": form.get("editing", "")})
    return redirect(f"/tariffs/{quote(tariff_id)}?done=rate&prefix={quote(rate.prefix)}")


@router.post("/tariffs/{tariff_id}/rate/remove")
async def remove_rate(request: Request, tariff_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    service.tariff(backend, caller, tariff_id)
    form = await posted(request, csrf)
    fields = {name: str(form.get(name, "")).strip() or None for name in ("effective_from", "day_type", "start", "end")}
    fields["prefix"] = str(form.get("prefix", "")).strip()
    try:
        await rate_service.remove_rate(backend, caller, tariff_id, fields, form.get("every_version") == "on")
    except Refused as exc:
        return _tariff_page(request, caller, csrf, tariff_id, exc.detail)
    return redirect(f"/tariffs/{quote(tariff_id)}?done=rate-removed")


@router.get("/tariffs/{tariff_id}/rates.csv")
def download_rates(request: Request, tariff_id: str) -> Response:
    """The rates the page's search shows (all of them without one), in the columns the upload reads."""
    caller, _ = manager(request)
    backend = backend_of(request)
    tariff = service.tariff(backend, caller, tariff_id)
    search, _ = _search(request)
    book = backend.live.book
    body = rates_csv(book.tariff_index(tariff.id), search, rate_service.now(), destination_names(book, tariff.id))
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in tariff.id)[:100] or "tariff"
    return PlainTextResponse(body, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}-rates.csv"'})


@router.post("/tariffs/{tariff_id}/archive")
async def archive_tariff(request: Request, tariff_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    service.tariff(backend, caller, tariff_id)
    form = await posted(request, csrf)
    archived = form.get("action") != "unarchive"
    try:
        await rate_service.archive_tariff(backend, caller, tariff_id, archived)
    except Refused as exc:
        return _tariff_page(request, caller, csrf, tariff_id, exc.detail)
    return redirect(f"/tariffs/{quote(tariff_id)}?done={'archived' if archived else 'unarchived'}")

