"""Portal pages of DIDs (docs/domain.md "DIDs"): the admin creates them with their rates and gives them
to a reseller (or a direct user); a reseller assigns his to his users and sets the owner rate his
user pays him. Every change goes through service.put_did, as PUT /v1/dids/{number} does."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pipeline.api import service
from pipeline.api.auth import backend_of
from pipeline.api.errors import NotFound, Refused
from pipeline.api.portal import manager, posted, redirect, render
from pipeline.api.visibility import Caller

router = APIRouter(include_in_schema=False)
LEGS = ("incoming", "owner", "provider")
RATE_INPUTS = (("rate", "rate"), ("fee", "connection_fee"), ("increment", "increment"))


def assignable_users(book, caller: Caller, did) -> list:
    """Whom the DID may be given to: its reseller's own users (a reseller: his); a DID of no
    reseller, the admin's direct users. Anyone else would be refused by the ownership rules."""
    holder = did.reseller if did is not None and did.reseller else (caller.account if not caller.is_admin else "admin")
    return sorted((a for a in book.accounts() if a.type == "user" and a.parent == holder
                   and not getattr(a, "archived", False)), key=lambda a: a.id)


def dids_context(request: Request, caller: Caller) -> dict[str, Any]:
    backend = backend_of(request)
    book = backend.live.book
    dids = service.dids(backend, caller)
    resellers = sorted((a for a in book.accounts() if a.type == "reseller"), key=lambda a: a.id) if caller.is_admin else []
    return {"dids": dids, "choices": {d.number: assignable_users(book, caller, d) for d in dids},
            "resellers": resellers, "direct_users": assignable_users(book, caller, None) if caller.is_admin else []}


@router.get("/dids", response_class=HTMLResponse)
def dids_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    return render(request, "dids.html", caller, csrf, active="dids", **dids_context(request, caller))


def _rate(form: dict[str, Any], prefix: str) -> dict[str, str] | None:
    """A rate object from the form's `PREFIX_rate`, `PREFIX_fee`, `PREFIX_increment`; None when
    the rate is left empty. The record's own rules judge the values (negative money allowed)."""
    values = {field: str(form.get(f"{prefix}_{name}", "")).strip() for name, field in RATE_INPUTS}
    if not values["rate"]:
        return None
    return {field: value for field, value in values.items() if value}


def _rates(form: dict[str, Any]) -> dict[str, dict]:
    return {leg: rate for leg in LEGS if (rate := _rate(form, leg)) is not None}


@router.post("/dids")
async def create_did(request: Request) -> Response:
    """The admin's new DID: number, reseller (or none), user, and its three rates."""
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    backend = backend_of(request)
    number = "".join(ch for ch in str(form.get("number", "")) if not ch.isspace()).removeprefix("+")
    try:
        if not caller.is_admin:
            raise NotFound()  # only the admin creates DIDs
        if not number:
            raise Refused("number: a DID needs a number")
        if backend.live.book.did(number) is not None:
            raise Refused(f'number: DID "{number}" already exists; open it to change it')
        await service.put_did(backend, caller, number, {
            "reseller": form.get("reseller") or None, "user": form.get("user") or None, "rates": _rates(form)})
    except Refused as exc:
        return render(request, "dids.html", caller, csrf, status=422, active="dids", error=exc.detail, form=form,
                      **dids_context(request, caller))
    return redirect(f"/dids/{quote(number)}?done=saved")


@router.post("/dids/{number}")
async def assign_did(request: Request, number: str) -> Response:
    caller, csrf = manager(request)
    existing = service.did(backend_of(request), caller, number)  # 404 before anything else
    form = await posted(request, csrf)
    fields = {"reseller": existing.reseller, "user": form.get("user") or None}
    try:
        await service.put_did(backend_of(request), caller, number, fields)
    except Refused as exc:
        return render(request, "dids.html", caller, csrf, status=422, active="dids", error=exc.detail,
                      **dids_context(request, caller))
    return redirect("/dids?done=saved")


@router.get("/dids/{number}", response_class=HTMLResponse)
def did_page(request: Request, number: str) -> HTMLResponse:
    caller, csrf = manager(request)
    return _did_page(request, caller, csrf, number)


def _did_page(request: Request, caller: Caller, csrf: str, number: str, status: int = 200, error: str = ""):
    backend = backend_of(request)
    did = service.did(backend, caller, number)
    book = backend.live.book
    resellers = sorted((a for a in book.accounts() if a.type == "reseller"), key=lambda a: a.id) if caller.is_admin else []
    return render(request, "did.html", caller, csrf, status=status, active="dids", did=did, error=error,
                  users=assignable_users(book, caller, did), resellers=resellers, legs=LEGS)


@router.post("/dids/{number}/rates")
async def save_did(request: Request, number: str) -> Response:
    """The admin: reseller, user and the three rates; a reseller: his user and the owner rate
    that user pays him (empty: the admin's owner rate)."""
    caller, csrf = manager(request)
    existing = service.did(backend_of(request), caller, number)  # 404 before anything else
    form = await posted(request, csrf)
    fields: dict[str, Any] = {"user": form.get("user") or None, "owner_rate": _rate(form, "owner_rate")}
    if caller.is_admin:
        fields.update(reseller=form.get("reseller") or None, rates=_rates(form))
    else:
        fields["reseller"] = existing.reseller
    if fields["user"] is None or fields["reseller"] is None:
        fields["owner_rate"] = None  # only a reseller's user pays an owner rate to his reseller
    try:
        await service.put_did(backend_of(request), caller, number, fields)
    except Refused as exc:
        return _did_page(request, caller, csrf, number, 422, exc.detail)
    return redirect(f"/dids/{quote(number)}?done=saved")
