"""Portal domains in the API (`/v1/portal-domains`) and the portal (the admin's reseller page, the
reseller's branding page); the rules are pipeline/api/domains.py."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from pipeline.api import domains
from pipeline.api.auth import api_caller, backend_of
from pipeline.api.errors import Refused
from pipeline.api.portal import error_page, manager, posted, redirect, templates
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller

router = APIRouter()
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]


class PortalDomain(BaseModel):
    host: str
    account: str


class PortalDomainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=200, description="the reseller whose portal this host is")


@router.get("/v1/portal-domains", response_model=list[PortalDomain], tags=["accounts"])
def list_domains(caller: CallerDep, backend: BackendDep):
    """The admin: every reseller's portal domains; a reseller: his own."""
    return domains.domains(backend, caller)


@router.put("/v1/portal-domains/{host}", response_model=PortalDomain, tags=["accounts"])
async def put_domain(host: str, body: PortalDomainBody, caller: CallerDep, backend: BackendDep):
    """HOST becomes the reseller's portal: his brand on its login page, and only he and his users
    sign in there. The admin sets any reseller's; a reseller his own when the admin allows it
    (`allow_own_domain` on his account)."""
    return await domains.set_domain(backend, caller, host, body.account)


@router.delete("/v1/portal-domains/{host}", status_code=204, response_class=Response, tags=["accounts"])
async def delete_domain(host: str, caller: CallerDep, backend: BackendDep):
    await domains.remove_domain(backend, caller, host)
    return Response(status_code=204)


# the portal ------------------------------------------------------------------------------------

def _back(caller: Caller, account: str) -> str:
    return f"/users/{quote(account)}?done=saved#portal-domains" if caller.is_admin else "/branding?done=saved#portal-domains"


@router.post("/portal-domains", include_in_schema=False)
async def add_domain_page(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    account = str(form.get("account") or caller.account)
    try:
        await domains.set_domain(backend_of(request), caller, str(form.get("host", "")), account)
    except Refused as exc:
        return error_page(request, 422, "Not saved", exc.detail)
    return redirect(_back(caller, account))


@router.post("/portal-domains/remove", include_in_schema=False)
async def remove_domain_page(request: Request) -> Response:
    caller, csrf = manager(request)
    form = await posted(request, csrf)
    host = str(form.get("host", ""))
    backend = backend_of(request)
    account = domains.tenant_of_host(backend, host) or caller.account
    try:
        await domains.remove_domain(backend, caller, host)
    except Refused as exc:
        return error_page(request, 422, "Not saved", exc.detail)
    return redirect(_back(caller, account))


def portal_domains_of(request: Request, caller: Caller, account_id: str) -> dict:
    """For _portal_domains.html: the account's domains and whether the caller may change them."""
    backend = backend_of(request)
    return {"hosts": [d["host"] for d in domains.domains(backend, caller, account_id)],
            "may": domains.may_manage(caller, backend.live.book, account_id)}


templates.env.globals["portal_domains_of"] = portal_domains_of
