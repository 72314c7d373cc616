"""The API's refusals, mapped to RFC 7807 problem answers by app.py (401, 404, 422), and the
problem answer itself."""
from __future__ import annotations

from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, headers: dict | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class ApiError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(ApiError):
    status, title = 401, "Unauthorized"


class NotFound(ApiError):
    """Outside the caller's view, or missing: the same answer, so nothing leaks."""
    status, title = 404, "Not Found"

    def __init__(self, detail: str = "no such resource") -> None:
        super().__init__(detail)


class Refused(ApiError):
    """Well-formed but breaks a rule; the detail names the field and the rule."""
    status, title = 422, "Unprocessable Content"


class TooManyAttempts(ApiError):
    status, title = 429, "Too Many Requests"
