"""What Kamailio and the authorization bridge say to each other over evapi, pure.

kamailio.cfg (WITH_AUTHORIZE) suspends an INVITE and sends a question, a JSON object in a netstring
(`LEN:JSON,`): `{"tindex", "tlabel", "call_id", "account", "src", "dst", "invite_ts"}`. The bridge
answers each with one netstring JSON object carrying the same tindex/tlabel (they name the suspended
transaction) and either
    {"outcome": "answer", "allowed": 1|0, "max_seconds", "sip_code", "phrase", "reason", "detail"}
or  {"outcome": "unavailable", "detail"}  (billing did not answer: kamailio.cfg's AUTH_FAIL_POLICY).
The bridge's first message on a connection is {"hello": "authorizer"}: only then does Kamailio send
it questions. Booleans travel as 1/0 (what the script compares).
"""
from __future__ import annotations

from datetime import datetime, timezone

HELLO = {"hello": "authorizer"}
# reason phrases of the codes a refusal can carry (pipeline/authorize/request.py REFUSALS), RFC 3261
SIP_PHRASES = {
    400: "Bad Request", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    480: "Temporarily Unavailable", 486: "Busy Here", 488: "Not Acceptable Here", 500: "Server Internal Error",
    503: "Service Unavailable", 603: "Decline",
}
REFUSED_WITHOUT_CODE = 403  # an answer that refuses without naming a code (never expected)
MAX_FRAME = 64 * 1024


class FrameError(Exception):
    """The peer sent something that is not a netstring: the connection is dropped."""


def netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


class NetstringReader:
    """Whole netstrings out of a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while True:
            while self._buffer[:1] in (b" ", b"\r", b"\n", b"\t"):  # evapi tolerates whitespace between frames
                del self._buffer[:1]
            colon = self._buffer.find(b":")
            if colon < 0:
                if len(self._buffer) > 20:
                    raise FrameError(f"no length prefix in {bytes(self._buffer[:40])!r}")
                return frames
            digits = bytes(self._buffer[:colon])
            if not digits.isdigit() or int(digits) > MAX_FRAME:
                raise FrameError(f"bad netstring length {digits[:20]!r}")
            end = colon + 1 + int(digits)
            if len(self._buffer) <= end:
                return frames
            if self._buffer[end:end + 1] != b",":
                raise FrameError("netstring does not end with ','")
            frames.append(bytes(self._buffer[colon + 1:end]))
            del self._buffer[:end + 1]


def authorize_body(question: dict, server_id: str) -> dict:
    """The POST /v1/authorize body for Kamailio's question (server_id: the switch's, as in its CDRs)."""
    body = {"server_id": server_id, "call_id": question["call_id"], "account": question.get("account", ""),
            "dst": question.get("dst", ""), "src": question.get("src", "")}
    invite_ts = question.get("invite_ts")
    if invite_ts:
        body["setup_time"] = datetime.fromtimestamp(float(invite_ts), timezone.utc).isoformat()
    return body


def answered(question: dict, answer: dict) -> dict:
    """Kamailio's reply for the API's 200 answer."""
    allowed = bool(answer.get("allowed")) and int(answer.get("max_seconds") or 0) > 0
    code = None if allowed else (answer.get("sip_code") or REFUSED_WITHOUT_CODE)
    return {**_names(question), "outcome": "answer", "allowed": int(allowed),
            "max_seconds": int(answer.get("max_seconds") or 0) if allowed else 0,
            "sip_code": code or 0, "phrase": SIP_PHRASES.get(code, "Call Refused") if code else "",
            "reason": str(answer.get("reason", "")), "detail": str(answer.get("detail", ""))[:300]}


def unavailable(question: dict, detail: str) -> dict:
    """Kamailio's reply when billing did not answer (timeout, refused connection, 5xx/504, a bad token)."""
    return {**_names(question), "outcome": "unavailable", "detail": detail[:300]}


def _names(question: dict) -> dict:
    return {"tindex": int(question["tindex"]), "tlabel": int(question["tlabel"])}
