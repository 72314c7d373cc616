"""Alerts in the API (CONTRACT v3 "Alerts") and the portal's alerts page.

- `GET /v1/alerts`, `GET|PUT /v1/alerts/{id}`: the admin sees and sets every alert; a reseller only
  the alerts he owns, over his own users (the write rules say so: pipeline/alerts/rules.py); a user
  none (404 for one).
- `GET /v1/alert-events`: fired and cleared events, newest first: the admin all; a reseller those
  of his alerts and those whose target is himself or one of his users; a user those about him.
- `GET /v1/alert-blocks`, `DELETE /v1/alerts/{id}/blocks/{account}`: who an alert blocks now; lift
  one (the admin any, a reseller those of his own alerts).
The reads of events and blocks go through an AlertStore (`backend.alerts`): ClickHouse and Kafka in
production, a fake in the unit tests.
"""
from __future__ import annotations

import asyncio
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from pipeline.alerts.store import current_blocks, lift, recent_events
from pipeline.api import service
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.clickhouse_store import ClickHouseCalls
from pipeline.api.errors import NotFound, Refused
from pipeline.api.portal import manager, posted, render
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller, sees_account
from pipeline.schemas.alerts import AlertIn
from pipeline.schemas.validation_errors import describe_validation_error

router = APIRouter()
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]


class AlertStore(Protocol):
    def events(self, limit: int, owners: tuple[str, ...] | None, targets: tuple[str, ...] | None) -> list[dict]: ...

    async def blocks(self) -> list[dict]: ...

    async def lift(self, alert_id: str, account: str, by: str) -> None: ...


class KafkaClickHouseAlerts:
    """Production: events from ClickHouse alert_events, blocks from the alert_blocks topic."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._clickhouse = ClickHouseCalls(settings)  # its per-thread client

    def events(self, limit, owners, targets) -> list[dict]:
        return recent_events(self._clickhouse._client(), self.settings.clickhouse_database, limit, owners, targets)

    async def blocks(self) -> list[dict]:
        return await current_blocks(self.settings)

    async def lift(self, alert_id, account, by) -> None:
        await lift(self.settings, alert_id, account, by)


def alert_store(backend: Backend) -> AlertStore:
    store = getattr(backend, "alerts", None)
    if store is None:
        settings = getattr(backend.writer, "settings", None)  # the Kafka writer knows the installation
        if settings is None:
            raise NotFound("alerts are not served by this instance")
        store = backend.alerts = KafkaClickHouseAlerts(settings)
    return store


# who sees what -----------------------------------------------------------------------------------

def sees_alert(caller: Caller, alert: AlertIn | None) -> bool:
    return alert is not None and (caller.is_admin or caller.role == "reseller" and alert.owner == caller.account)


def visible_alerts(backend: Backend, caller: Caller) -> list[AlertIn]:
    return sorted((a for a in backend.live.book.alerts() if sees_alert(caller, a)), key=lambda a: a.id)


def event_filter(backend: Backend, caller: Caller) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(owners, targets) whose events the caller sees; (None, None): all."""
    if caller.is_admin:
        return None, None
    if caller.role == "reseller":
        users = tuple(a.id for a in backend.live.book.accounts() if a.parent == caller.account and a.type == "user")
        return (caller.account,), (caller.account, *users)
    return (), (caller.account,)


def visible_blocks(backend: Backend, caller: Caller, blocks: list[dict]) -> list[dict]:
    book = backend.live.book
    return [b for b in blocks if caller.is_admin or sees_account(caller, book.account(b["account"]))]


def alert_json(alert: AlertIn) -> dict[str, Any]:
    return alert.model_dump(mode="json", exclude={"kind"})


# JSON API -----------------------------------------------------------------------------------------

@router.get("/v1/alerts", tags=["alerts"])
def list_alerts(caller: CallerDep, backend: BackendDep) -> list[dict]:
    return [alert_json(a) for a in visible_alerts(backend, caller)]


@router.get("/v1/alerts/{id}", tags=["alerts"])
def get_alert(id: str, caller: CallerDep, backend: BackendDep) -> dict:
    found = backend.live.book.alert(id)
    return alert_json(service.shown(found, sees_alert(caller, found)))


@router.put("/v1/alerts/{id}", tags=["alerts"])
async def put_alert(id: str, body: dict[str, Any], caller: CallerDep, backend: BackendDep) -> dict:
    """Body: the alert JSON without `kind` and `id` (CONTRACT v3); `owner` defaults to the caller."""
    existing = backend.live.book.alert(id)
    if caller.role == "user" or existing is not None and not sees_alert(caller, existing):
        raise NotFound()
    fields = {k: v for k, v in body.items() if k not in ("kind", "id")}
    fields.setdefault("owner", caller.account)
    record = _parse_alert({**fields, "id": id})
    await service.write(backend, caller, [record], "put alert")
    return alert_json(record)


def _parse_alert(fields: dict) -> AlertIn:
    try:
        return AlertIn.model_validate({**fields, "kind": "alert"})
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc)) from None


@router.get("/v1/alert-events", tags=["alerts"])
async def alert_events(caller: CallerDep, backend: BackendDep,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    owners, targets = event_filter(backend, caller)
    return await asyncio.to_thread(alert_store(backend).events, limit, owners, targets)


@router.get("/v1/alert-blocks", tags=["alerts"])
async def alert_blocks(caller: CallerDep, backend: BackendDep) -> list[dict]:
    if caller.role == "user":
        raise NotFound()
    return visible_blocks(backend, caller, await alert_store(backend).blocks())


@router.delete("/v1/alerts/{id}/blocks/{account}", status_code=204, tags=["alerts"])
async def lift_block(id: str, account: str, caller: CallerDep, backend: BackendDep) -> Response:
    """Lifts alert `id`'s block of `account` (the guard re-judges him: money or another block may remain)."""
    await _lift(backend, caller, id, account)
    return Response(status_code=204)


async def _lift(backend: Backend, caller: Caller, alert_id: str, account: str) -> None:
    alert = backend.live.book.alert(alert_id)
    may = caller.is_admin or (sees_alert(caller, alert) and sees_account(caller, backend.live.book.account(account)))
    if not may:
        raise NotFound()
    await alert_store(backend).lift(alert_id, account, caller.account)
    await service.audit(backend, caller, "lift alert block", f"alert {alert_id}", account)


# the portal page -----------------------------------------------------------------------------------

@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
async def alerts_page(request: Request) -> HTMLResponse:
    caller, csrf = manager(request)
    backend = backend_of(request)
    owners, targets = event_filter(backend, caller)
    try:
        store = alert_store(backend)
        events = await asyncio.to_thread(store.events, 50, owners, targets)
        blocks = visible_blocks(backend, caller, await store.blocks())
        unavailable = ""
    except Exception as exc:  # noqa: BLE001 - ClickHouse or Kafka away: the definitions still show
        events, blocks, unavailable = [], [], f"{type(exc).__name__}: {str(exc)[:200]}"
    return render(request, "alerts.html", caller, csrf, active="alerts", alerts=visible_alerts(backend, caller),
                  events=events, blocks=blocks, unavailable=unavailable)


@router.post("/alerts/lift", include_in_schema=False)
async def lift_from_portal(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    await _lift(backend_of(request), caller, str(form.get("alert", "")), str(form.get("account", "")))
    return RedirectResponse("/alerts?done=saved", status_code=303)
