"""Portal pages of devices (docs/devices.md): the admin's and a reseller's list of the devices of
the accounts he manages, a form to add one, and each device's page to change or archive it.
Everything goes through routes_devices' functions, with the visibility and write rules of the API.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pipeline.api import routes_devices as devices
from pipeline.api.auth import backend_of
from pipeline.api.errors import Refused
from pipeline.api.portal import manager, posted, redirect, render
from pipeline.api.visibility import Caller, users_of

router = APIRouter(include_in_schema=False)
FIELDS = ("account", "server", "sip_user", "ip", "accountcode", "call_limit", "name")
NOTICES = {"archived": "Device archived: it matches no call any more.", "restored": "Device back in use."}


def _fields(form: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {name: str(form.get(name, "")).strip() or None for name in FIELDS}
    limit = fields.pop("call_limit")
    if limit is not None:
        if not limit.isdigit():
            raise Refused("call_limit: a whole number of simultaneous calls (0 or empty: no limit)")
        fields["call_limit"] = int(limit)
    return fields


def _accounts(request: Request, caller: Caller) -> list:
    """The accounts the caller may give a device to: a reseller's users and himself, the admin's
    resellers and users."""
    book = backend_of(request).live.book
    if caller.is_admin:
        return sorted((a for a in book.accounts() if a.type != "admin" and not a.archived), key=lambda a: a.id)
    own = book.account(caller.account)
    return [own] + [a for a in users_of(caller, book) if a.type == "user" and not a.archived]


def _list_page(request: Request, caller: Caller, csrf: str, status: int = 200, error: str = "",
               form: dict | None = None) -> HTMLResponse:
    backend = backend_of(request)
    return render(request, "devices.html", caller, csrf, status=status, active="devices", error=error, form=form,
                  devices=devices.devices_of(backend, caller, include_archived=True),
                  accounts=_accounts(request, caller))


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    return _list_page(request, caller, csrf)


@router.post("/devices")
async def create_device(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    backend = backend_of(request)
    device_id = str(form.get("id", "")).strip()
    try:
        if not device_id:
            raise Refused("id: a device needs an id")
        existing = backend.live.book.device(device_id)
        if existing is not None:
            devices.device_of(backend, caller, device_id)  # 404 when it is someone else's
            raise Refused(f'id: device "{device_id}" already exists; choose another id')
        await devices.put_device(backend, caller, device_id, _fields(form))
    except Refused as exc:
        return _list_page(request, caller, csrf, 422, exc.detail, form)
    return redirect(f"/devices/{quote(device_id)}?done=saved")


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, device_id: str) -> HTMLResponse:
    caller, csrf = manager(request)
    return _device_page(request, caller, csrf, device_id)


def _device_page(request: Request, caller: Caller, csrf: str, device_id: str, status: int = 200,
                 error: str = "") -> HTMLResponse:
    device = devices.device_of(backend_of(request), caller, device_id)
    return render(request, "device.html", caller, csrf, status=status, active="devices", device=device, error=error,
                  accounts=_accounts(request, caller),
                  device_notice=NOTICES.get(request.query_params.get("done", ""), ""))


@router.post("/devices/{device_id}")
async def update_device(request: Request, device_id: str) -> Response:
    caller, csrf = manager(request)
    backend = backend_of(request)
    devices.device_of(backend, caller, device_id)  # 404 before reading the form
    form = await posted(request, csrf)
    try:
        await devices.put_device(backend, caller, device_id, _fields(form))
    except Refused as exc:
        return _device_page(request, caller, csrf, device_id, 422, exc.detail)
    return redirect(f"/devices/{quote(device_id)}?done=saved")


@router.post("/devices/{device_id}/archive")
async def archive_from_portal(request: Request, device_id: str) -> Response:
    """Archive (`action=archive`) or bring back (`action=restore`) the device."""
    caller, csrf = manager(request)
    backend = backend_of(request)
    device = devices.device_of(backend, caller, device_id)
    form = await posted(request, csrf)
    try:
        if form.get("action") == "restore":
            await devices.put_device(backend, caller, device_id, {**devices.device_json(device), "archived": False})
            done = "restored"
        else:
            await devices.archive_device(backend, caller, device_id)
            done = "archived"
    except Refused as exc:
        return _device_page(request, caller, csrf, device_id, 422, exc.detail)
    return redirect(f"/devices/{quote(device_id)}?done={done}")
