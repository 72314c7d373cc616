"""What Kamailio and the authorization bridge say to each other over evapi, pure.

kamailio.cfg (WITH_AUTHORIZE) suspends an INVITE and sends a question, a JSON object in a netstring
(`LEN:JSON,`): `{"tindex", "tlabel", "call_id", "account", "src", "dst", "invite_ts"}`. The bridge
answers each with one netstring JSON object carrying the same tindex/tlabel (they name the suspended
transaction) and either
    {"outcome": "answer", "allowed": 1|0, "max_seconds", "sip_code", "phrase", "reason", "detail"}
or  {"outcome": "unavailable", "detail"}  (billing did not answer: kamailio.cfg's AUTH_FAIL_POLICY).
A calling card's call (the Request-URI user a dial string, `*CARD*PIN#DESTINATION`, see card_dial.py)
is asked with the card, its PIN and the destination, `account` empty; its answer also carries
    "card": the card that pays (the API's `account`), "dst": the DESTINATION Kamailio relays to
(both "" for any other call). A dial string that cannot be read is refused at once (484) without
asking the API. The PIN travels only in the question to the API, never in a reply or a log.
The bridge's first message on a connection is {"hello": "authorizer"}: only then does Kamailio send
it questions. Booleans travel as 1/0 (what the script compares).
"""
from __future__ import annotations

from datetime import datetime, timezone

from pipeline.adapters.card_dial import CardDial, DialError, is_card_dial, parse_card_dial

HELLO = {"hello": "authorizer"}
# reason phrases of the codes a refusal can carry (pipeline/authorize/request.py REFUSALS), RFC 3261
SIP_PHRASES = {
    400: "Bad Request", 402: "Payment Required", 403: "Forbidden", 404: "Not Found", 484: "Address Incomplete",
    480: "Temporarily Unavailable", 486: "Busy Here", 488: "Not Acceptable Here", 500: "Server Internal Error",
    503: "Service Unavailable", 603: "Decline",
}
REFUSED_WITHOUT_CODE = 403  # an answer that refuses without naming a code (never expected)
BAD_DIAL_CODE = 484  # a card dial string that cannot be read
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


def card_dial(question: dict) -> CardDial | None:
    """The card dial string of Kamailio's question (its `dst`, the Request-URI user), or None when it
    is an ordinary call; DialError when it is a card call that cannot be read."""
    dst = str(question.get("dst", ""))
    return parse_card_dial(dst) if is_card_dial(dst) else None


def authorize_body(question: dict, server_id: str, dial: CardDial | None = None) -> dict:
    """The POST /v1/authorize body for Kamailio's question (server_id: the switch's, as in its CDRs);
    with `dial`, a card's call: the card and its PIN (or the caller id alone), `account` empty."""
    body = {"server_id": server_id, "call_id": question["call_id"], "account": question.get("account", ""),
            "dst": question.get("dst", ""), "src": question.get("src", "")}
    if dial is not None:
        body.update(account="", dst=dial.destination)
        if dial.card:
            body.update(card=dial.card, pin=dial.pin)
    invite_ts = question.get("invite_ts")
    if invite_ts:
        body["setup_time"] = datetime.fromtimestamp(float(invite_ts), timezone.utc).isoformat()
    return body


def answered(question: dict, answer: dict, dial: CardDial | None = None) -> dict:
    """Kamailio's reply for the API's 200 answer."""
    allowed = bool(answer.get("allowed")) and int(answer.get("max_seconds") or 0) > 0
    code = None if allowed else (answer.get("sip_code") or REFUSED_WITHOUT_CODE)
    return {**_names(question), "outcome": "answer", "allowed": int(allowed),
            "max_seconds": int(answer.get("max_seconds") or 0) if allowed else 0,
            "sip_code": code or 0, "phrase": SIP_PHRASES.get(code, "Call Refused") if code else "",
            "reason": str(answer.get("reason", "")), "detail": str(answer.get("detail", ""))[:300],
            **_card_fields(answer, dial)}


def bad_dial(question: dict, error: DialError) -> dict:
    """Kamailio's reply for a card dial string that cannot be read: 484, billing not asked."""
    return {**_names(question), "outcome": "answer", "allowed": 0, "max_seconds": 0, "sip_code": BAD_DIAL_CODE,
            "phrase": SIP_PHRASES[BAD_DIAL_CODE], "reason": "bad_dial_string", "detail": str(error)[:300],
            "card": "", "dst": ""}


def _card_fields(answer: dict, dial: CardDial | None) -> dict:
    if dial is None:
        return {"card": "", "dst": ""}
    # the card that pays is the API's account (for a caller id's card, the card it found)
    return {"card": str(answer.get("account") or dial.card), "dst": dial.destination}


def unavailable(question: dict, detail: str) -> dict:
    """Kamailio's reply when billing did not answer (timeout, refused connection, 5xx/504, a bad token)."""
    return {**_names(question), "outcome": "unavailable", "detail": detail[:300]}


def _names(question: dict) -> dict:
    return {"tindex": int(question["tindex"]), "tlabel": int(question["tlabel"])}
