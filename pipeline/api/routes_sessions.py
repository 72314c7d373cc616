"""`POST /v1/sessions/revoke-all`: sign the caller's account out of every portal session.

For a script or a user who suspects a cookie was copied: the account's session epoch rises on
ref.credentials, so every instance refuses every session issued before (auth.py). Bearer tokens are
not sessions and stay valid; `token revoke` ends those.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from pipeline.api.auth import api_caller, backend_of, revoke_all_sessions
from pipeline.api.service import audit
from pipeline.api.stores import Backend
from pipeline.api.visibility import Caller

router = APIRouter(prefix="/v1")


@router.post("/sessions/revoke-all", status_code=204, response_class=Response, tags=["sessions"],
             responses={204: {"description": "every portal session of the caller's account has ended"}})
async def revoke_all(caller: Annotated[Caller, Depends(api_caller)],
                     backend: Annotated[Backend, Depends(backend_of)]) -> Response:
    await revoke_all_sessions(backend, caller.account)
    await audit(backend, caller, "sign out everywhere", f"account {caller.account}")
    return Response(status_code=204)
