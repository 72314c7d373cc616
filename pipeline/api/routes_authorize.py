"""POST /v1/authorize: may this call start, and for how long (CONTRACT v3 "Authorizing a call").

Asked by the switches (a switch token may only ask for its own server's calls) or by the admin.
The answer is always 200 for a well-formed question, allowed or not: a refusal carries its reason,
the SIP code to answer and MOR's cause. 504 when the authorizer did not answer in time: the switch
then follows its own policy (deny for prepaid by default, see docs/authorization.md).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from pipeline.api.auth import api_caller, backend_of, bearer
from pipeline.api.authorizer import NoAnswer
from pipeline.api.errors import ApiError, NotFound
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller
from pipeline.authorize.request import AuthorizeRequest

router = APIRouter(prefix="/v1")


class AuthorizeAnswer(BaseModel):
    allowed: bool
    max_seconds: int
    reason: str
    sip_code: int | None
    mor_code: int | None
    account: str
    holds: dict[str, str]
    balance: str | None
    currency: str
    detail: str = ""


class NotAnswered(ApiError):
    status = 504
    title = "no answer from the authorizer"


class NotOffered(ApiError):
    status = 503
    title = "authorization is not offered by this API instance"


class NotYourServer(ApiError):
    status = 403
    title = "this token may not authorize calls of that server"


def switch_or_caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """A switch's token (`token create --switch SERVER`): its server; else the account's caller."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        server = backend_of(request).live.credentials.switch_of_token(credentials.credentials)
        if server is not None:
            return server
    return api_caller(request, credentials)


@router.post("/authorize", response_model=AuthorizeAnswer, tags=["calls"],
             responses={403: {"description": "a switch's token asking for another server's call"},
                        503: {"description": "this instance offers no authorization"},
                        504: {"description": "the authorizer did not answer in time"}})
async def authorize(body: AuthorizeRequest, caller: Annotated[Caller | str, Depends(switch_or_caller)],
                    backend: Annotated[Backend, Depends(backend_of)]):

    if isinstance(caller, str):  # a switch
        if caller != body.server_id:
            raise NotYourServer(f"the token is for server {caller!r}, the call is on {body.server_id!r}")
    elif caller.role != "admin":  # for an account's token the route is not there, as with others' records
        raise NotFound()
    if backend.authorizer is None:
        raise NotOffered("this instance has no Kafka authorizer (tests' in-memory backend)")
    try:
        return await backend.authorizer.authorize(body)
    except NoAnswer as exc:
        raise NotAnswered(str(exc)) from None
