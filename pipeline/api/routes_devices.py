"""Devices in the API (docs/devices.md); the portal's pages are in portal_devices.py.

- `GET /v1/devices` (`?account=` one account's, `?include_archived=true` archived ones too),
  `GET|PUT /v1/devices/{id}`, `DELETE /v1/devices/{id}` (archives it: it stops matching at once and
  its keys are free; a PUT with `"archived": false` brings it back).
The admin manages every device; a reseller those of his users and his own; a user none (404).
Writes go through the same rules as `ref apply` (pipeline/reference/device_rules.py).
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.api import service
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.errors import NotFound, Refused
from pipeline.api.models import Name, Ref
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, sees_account, sees_device
from pipeline.schemas.devices import DeviceIn
from pipeline.schemas.validation_errors import describe_validation_error

router = APIRouter(prefix="/v1")
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]
KeyText = Annotated[str, Field(max_length=200)]


class DeviceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: Ref
    server: KeyText | None = None
    sip_user: KeyText | None = None
    ip: KeyText | None = None
    accountcode: KeyText | None = None
    call_limit: int | None = None
    name: Name | None = None
    archived: bool | None = None


class Device(BaseModel):
    id: str
    account: str
    server: str | None
    sip_user: str | None
    ip: str | None
    accountcode: str | None
    call_limit: int
    name: str
    archived: bool


# what each request does (shared with the portal) --------------------------------------------------

def device_json(device: DeviceIn) -> dict[str, Any]:
    return device.model_dump(mode="json", exclude={"kind"})


def devices_of(backend: Backend, caller: Caller, account: str | None = None,
               include_archived: bool = False) -> list[DeviceIn]:
    book = backend.live.book
    return sorted((d for d in book.devices.all() if sees_device(caller, book, d)
                   and (account is None or d.account == account) and (include_archived or not d.archived)),
                  key=lambda d: d.id)


def device_of(backend: Backend, caller: Caller, device_id: str) -> DeviceIn:
    found = backend.live.book.device(device_id)
    return service.shown(found, sees_device(caller, backend.live.book, found))


async def put_device(backend: Backend, caller: Caller, device_id: str, fields: dict[str, Any]) -> DeviceIn:
    """Create or replace; `archived` is kept as it is when left out (archiving is a DELETE)."""
    book = backend.live.book
    existing = book.device(device_id)
    if caller.role == "user" or existing is not None and not sees_device(caller, book, existing):
        raise NotFound()
    if not caller.is_admin and not sees_account(caller, book.account(str(fields.get("account") or ""))):
        raise NotFound()  # another tenant's account, or none: as if it did not exist
    fields = {k: v for k, v in fields.items() if v is not None}
    if existing is not None:
        fields.setdefault("archived", existing.archived)
    try:
        record = DeviceIn.model_validate({**fields, "id": device_id, "kind": "device"})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None
    await service.write(backend, caller, [record], "put device")
    return record


async def archive_device(backend: Backend, caller: Caller, device_id: str) -> DeviceIn:
    device = device_of(backend, caller, device_id)
    if device.archived:
        return device
    record = device.model_copy(update={"archived": True})
    await service.write(backend, caller, [record], "archive device")
    return record


# JSON API -------------------------------------------------------------------------------------------

@router.get("/devices", response_model=list[Device], tags=["devices"])
def list_devices(caller: CallerDep, backend: BackendDep,
                 account: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                 include_archived: Annotated[bool, Query(description="archived devices too")] = False):
    if account is not None:
        service.account(backend, caller, account)  # 404 outside the caller's view
    return [device_json(d) for d in devices_of(backend, caller, account, include_archived)]


@router.get("/devices/{id}", response_model=Device, tags=["devices"])
def get_device(id: str, caller: CallerDep, backend: BackendDep):
    return device_json(device_of(backend, caller, id))


@router.put("/devices/{id}", response_model=Device, tags=["devices"])
async def put_device_route(id: str, body: DeviceBody, caller: CallerDep, backend: BackendDep):
    """Body: the device JSON without `kind` and `id` (at least one of sip_user, ip, accountcode;
    `server` null for every server)."""
    return device_json(await put_device(backend, caller, id, body.model_dump(exclude_unset=True)))


@router.delete("/devices/{id}", status_code=204, response_class=Response, tags=["devices"])
async def delete_device(id: str, caller: CallerDep, backend: BackendDep):
    """Archives the device: it matches no call from now on, and another device may take its keys."""
    await archive_device(backend, caller, id)
    return Response(status_code=204)
