"""Logins under /v1: passwords, one-time reset links and API tokens (rules: logins.py).

`PUT /v1/password` changes the caller's own password (the current one first, throttled as the
portal's sign-in is); `PUT /v1/accounts/{id}/password` and `POST /v1/accounts/{id}/password-reset`
are a manager's, for the accounts he manages; `/v1/tokens` lists, creates and revokes tokens.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from pipeline.api import logins
from pipeline.api.auth import Throttled, api_caller, backend_of, client_key
from pipeline.api.errors import Refused, problem
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller

router = APIRouter(prefix="/v1", tags=["logins"])
CallerDep = Annotated[Caller, Depends(api_caller)]
BackendDep = Annotated[Backend, Depends(backend_of)]
Password = Annotated[str, Field(min_length=1, max_length=256)]
THROTTLED = {429: {"description": "too many wrong current passwords from this client; see Retry-After",
                   "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
NO_CONTENT = {204: {"description": "done"}}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PasswordBody(_Body):
    password: Annotated[str, Field(min_length=8, max_length=256)]


class OwnPasswordBody(_Body):
    current: Password
    new: Annotated[str, Field(min_length=8, max_length=256)]


class ResetLink(BaseModel):
    account: str
    token: str = Field(description="shown once: the link works once, until `expires`")
    url: str = Field(description="the portal page that takes the token, on this API's host")
    expires: str


class TokenBody(_Body):
    expires_days: Annotated[int | None, Field(ge=1, le=logins.MAX_TOKEN_DAYS)] = None


class Token(BaseModel):
    id: str = Field(description="the part of the token before the dot; not secret")
    account: str
    created: str | None = None
    expires: str | None = None


class NewToken(Token):
    token: str = Field(description="shown once: only its hash is kept")


@router.put("/password", status_code=204, response_class=Response, responses={**NO_CONTENT, **THROTTLED})
async def change_own_password(body: OwnPasswordBody, request: Request, caller: CallerDep,
                              backend: BackendDep) -> Response:
    """The caller's own portal password; every portal session of the account ends (tokens stay)."""
    limiter, client = request.app.state.login_limiter, client_key(request, backend.config.trusted_proxies)
    try:
        await limiter.admit(caller.account, client)
    except Throttled as exc:
        return problem(429, exc.title, exc.detail, {"Retry-After": str(exc.retry_after)})
    try:
        await logins.change_own_password(backend, caller, body.current, body.new)
    except Refused as exc:
        if exc.detail.startswith("current:"):
            limiter.failed(caller.account, client)
        raise
    limiter.succeeded(caller.account, client)
    return Response(status_code=204)


@router.put("/accounts/{id}/password", status_code=204, response_class=Response, responses=NO_CONTENT)
async def set_password(id: str, body: PasswordBody, caller: CallerDep, backend: BackendDep) -> Response:
    """Sets the portal password of an account the caller manages (the admin: any other; a reseller:
    his users); its portal sessions end."""
    await logins.set_password(backend, caller, id, body.password)
    return Response(status_code=204)


@router.post("/accounts/{id}/password-reset", status_code=201, response_model=ResetLink)
async def issue_reset(id: str, caller: CallerDep, backend: BackendDep):
    """A one-time link (`/reset/TOKEN` on the portal) that lets the account choose its password
    within a day; the token is in this answer only."""
    return await logins.issue_reset(backend, caller, id)


@router.get("/tokens", response_model=list[Token])
def list_tokens(caller: CallerDep, backend: BackendDep,
                account: Annotated[str | None, Query(min_length=1, max_length=200,
                                                     description="an account the caller manages; default: his own")] = None):
    return logins.tokens(backend, caller, account)


@router.post("/tokens", status_code=201, response_model=NewToken)
async def create_token(body: TokenBody, caller: CallerDep, backend: BackendDep):
    """A bearer token of the caller's own account, optionally expiring after `expires_days`."""
    return await logins.create_token(backend, caller, body.expires_days)


@router.delete("/tokens/{id}", status_code=204, response_class=Response, responses=NO_CONTENT)
async def revoke_token(id: str, caller: CallerDep, backend: BackendDep) -> Response:
    """Revokes one token: the caller's own, or one of an account he manages."""
    await logins.revoke_token(backend, caller, id)
    return Response(status_code=204)

