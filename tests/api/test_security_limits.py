"""OWASP API4, unrestricted resource consumption, on the in-memory backend: what one caller sends
cannot take the API from the others (a big bad CSV parsed on the event loop, bodies read before
authentication and without a limit, strings and ids of any length or script, days ClickHouse cannot
hold), plus the transport's own headers (HSTS) and the interactive docs being off by default.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.config import ApiConfig
from pipeline.api.rates_upload import MAX_ERRORS, MAX_LINES, RatesRefused, rates_from_csv
from pipeline.reference.records import parse_reference_record
from tests.api.api_world import RECORDS, World, portal_client

JSON_LIMIT = ApiConfig().max_body_bytes
CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def world() -> World:
    return World()


def bad_csv(lines: int) -> bytes:
    return ("prefix,rate\n" + "".join(f"{n},x{n}\n" for n in range(lines))).encode()


# the rates CSV: parsed off the event loop, its errors bounded -------------------------------------

def test_other_requests_are_answered_while_a_big_bad_rates_file_is_parsed(world):
    """Measured as an order: while r1's upload is parsed, r2's requests keep being answered. On the
    event loop the parse blocked them all (14.8 s for one request during a 12 MB file), so none
    could finish between the end of the upload's body and its answer."""
    upload_body = bad_csv(300_000)

    async def main():
        body_read = asyncio.Event()

        async def watched(scope, receive, send):  # says when the upload's whole body has been read
            async def watched_receive():
                message = await receive()
                if scope["path"].endswith("/rates") and message["type"] == "http.request" \
                        and not message.get("more_body"):
                    body_read.set()
                return message
            await world.app(scope, watched_receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=watched), base_url="http://api") as client:
            upload = asyncio.create_task(client.put("/v1/tariffs/t-r1-retail/rates", content=upload_body,
                                                    headers={**world.headers("r1"), **CSV}))
            await body_read.wait()
            answered = 0
            while not upload.done():
                other = await client.get("/v1/accounts/u2", headers=world.headers("r2"))
                assert other.status_code == 200
                answered += 1 if not upload.done() else 0
            return await upload, answered

    upload, answered_during_parse = asyncio.run(main())
    assert upload.status_code == 422
    assert answered_during_parse >= 10, answered_during_parse
    detail = upload.json()["detail"]
    assert detail.count("line ") == MAX_ERRORS and detail.endswith(f"; and {300_000 - MAX_ERRORS} more")


def test_a_bad_file_reports_its_first_errors_and_counts_the_rest():
    with pytest.raises(RatesRefused) as refused:
        rates_from_csv(bad_csv(5_000))
    assert len(refused.value.errors) == MAX_ERRORS == 20
    assert refused.value.errors[0].startswith('line 2, column "rate"')
    assert refused.value.more == 5_000 - MAX_ERRORS
    assert len(str(refused.value)) < 200 * MAX_ERRORS


def test_a_file_of_more_lines_than_any_tariff_is_refused_unread():
    with pytest.raises(RatesRefused, match="at most 1,000,000 rates"):
        rates_from_csv(b"prefix,rate\n" + b"1,1\n" * MAX_LINES)


def test_a_large_good_file_is_parsed_in_the_child_and_replaces_the_rates(world):
    body = "prefix,rate\n" + "".join(f"3706{n:06d},0.{n % 9 + 1}\n" for n in range(20_000))
    assert len(body) > JSON_LIMIT  # the rates route takes more than a JSON route
    answer = world.put("r1", "/v1/tariffs/t-r1-retail/rates", content=body, headers=CSV)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rate_count"] == 20_000


def test_the_portal_preview_of_a_big_bad_file_shows_the_first_errors_and_the_count(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/tariffs/t-r1-retail/rates", data={"csrf": csrf},
                         files={"rates": ("deck.csv", bad_csv(3_000), "text/csv")})
    assert answer.status_code == 422
    assert "line 21," in answer.text and "line 22," not in answer.text
    assert "2,980" in answer.text or "2980" in answer.text


def test_a_killed_api_leaves_no_parser_process_behind():
    """The parser's children hold their queue's pipe open themselves, so without a watch on their
    parent they outlived a killed API (found running, orphaned, after `kill -9`)."""
    script = ("import asyncio, os\n"
              "from pipeline.api import rates_upload\n"
              "lines = b''.join(b'%d,1\\n' % n for n in range(20_000))\n"
              "asyncio.run(rates_upload.parse_rates(b'prefix,rate\\n' + lines))\n"
              "print(*rates_upload._pool._processes, flush=True)\n"
              "os.kill(os.getpid(), 9)\n")
    api = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[2])
    with api.stdout:  # read the line only: an orphan would hold the pipe open
        children = [int(pid) for pid in api.stdout.readline().split()]
    assert api.wait(60) == -9 and children
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in children if _running(pid)]
    for pid in left:  # the test leaves nothing running either way
        os.kill(pid, signal.SIGKILL)
    assert left == []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has exited; only its exit status waits to be read


# bodies: bounded before they are read, and not read at all without a valid token ------------------

def streamed(total: int, chunk: int = 16 * 1024):
    """An async body of `total` bytes sent chunked (no Content-Length), counting what was pulled."""
    pulled = [0]

    async def body():
        sent = 0
        while sent < total:
            piece = min(chunk, total - sent)
            pulled[0] += piece
            sent += piece
            yield b"x" * piece
    return body(), pulled


def send(world: World, method: str, path: str, content, headers: dict) -> httpx.Response:
    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app), base_url="http://api") as client:
            return await client.request(method, path, content=content, headers=headers)
    return asyncio.run(main())


def assert_problem(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status


def test_a_json_body_over_the_limit_is_413_problem(world):
    name = "n" * JSON_LIMIT
    answer = world.put("admin", "/v1/accounts/u-big", json={"type": "user", "parent": "r1", "name": name})
    assert_problem(answer, 413)
    assert world.live.book.account("u-big") is None and world.writer.published == []


def test_a_chunked_body_is_cut_at_the_limit_not_read_to_its_end(world):
    body, pulled = streamed(10 * JSON_LIMIT)
    answer = send(world, "POST", "/v1/payments", body, {**world.headers("r1"), "Content-Type": "application/json"})
    assert_problem(answer, 413)
    assert pulled[0] <= JSON_LIMIT + 16 * 1024  # one chunk past the limit, then nothing more
    assert world.writer.payments == []


def test_a_write_without_a_valid_token_is_401_before_its_body_is_read(world):
    for headers in ({}, {"Authorization": "Bearer nope.nope"}, {"Authorization": "Basic YTpi"}):
        body, pulled = streamed(8 * JSON_LIMIT)
        answer = send(world, "PUT", "/v1/accounts/u1", body, {**headers, "Content-Type": "application/json"})
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert pulled[0] == 0, headers


def test_each_upload_route_has_its_own_limit(world):
    logo = b"\x89PNG\r\n\x1a\n" + b"\0" * (ApiConfig().max_logo_bytes + 1)
    answer = world.put("r1", "/v1/accounts/r1/logo", content=logo, headers={"Content-Type": "image/png"})
    assert_problem(answer, 413)
    rates = [{"prefix": f"3706{n:04d}", "rate": "1", "effective_from": "2026-01-01T00:00:00Z"} for n in range(2_000)]
    assert len(json.dumps({"rates": rates})) > JSON_LIMIT  # a tariff's JSON may carry its rates
    assert world.put("r1", "/v1/tariffs/t-r1-retail", json={"rates": rates}).status_code == 200
    small = ApiConfig(secret="s", max_rates_bytes=2048)
    client = TestClient(create_app(world.backend, config=small))
    answer = client.put("/v1/tariffs/t-r1-retail/rates", content=bad_csv(1_000),
                        headers={**world.headers("r1"), **CSV})
    assert_problem(answer, 413)


# strings: bounded at the door; ids: a rule for new records, none for existing ones ----------------

@pytest.mark.parametrize("field, value", [
    ("name", "n" * 201), ("parent", "p" * 201), ("tariff", "t" * 201), ("server", "s" * 201),
    ("credit_limit", "0" * 70 + "1")])  # one significant digit: the money rule alone took it
def test_every_string_of_an_account_body_has_a_maximum(world, field, value):
    answer = world.put("admin", "/v1/accounts/u-long", json={"type": "user", "parent": "r1", field: value})
    assert_problem(answer, 422)
    assert answer.json()["detail"].startswith(f"{field}: ")
    assert world.live.book.account("u-long") is None


def test_tariff_provider_and_did_strings_have_a_maximum(world):
    long = "x" * 201
    for path, body in (("/v1/tariffs/t-new", {"timezone": "x" * 300}),  # was a 500 (OSError in the lookup)
                       ("/v1/tariffs/t-new", {"rates": [{"prefix": "1", "rate": "0" * 70 + "1"}]}),
                       ("/v1/tariffs/t-new", {"rates": [{"prefix": "1", "rate": "1", "start": "0" * 70}]}),
                       ("/v1/providers/p-new", {"tariff": long}),
                       ("/v1/dids/37052000077", {"reseller": long})):
        answer = world.put("admin", path, json=body)
        assert_problem(answer, 422)
        assert "at most" in answer.json()["detail"], answer.json()
    assert world.writer.published == []


@pytest.mark.parametrize("new_id", [
    "\u0430dmin",  # Cyrillic a
    "\uff55\uff11",  # fullwidth u1
    "u\u200b1",  # zero-width space
    "u\x071", "u 1", "-u1", ".u1", "u" * 65, "u1\n"])
def test_a_new_account_id_must_follow_the_id_rule(world, new_id):
    answer = world.put("admin", "/v1/accounts/" + quote(new_id, safe=""),
                       json={"type": "user", "parent": "r1", "tariff": "t-r1-retail"})
    assert_problem(answer, 422)
    assert "id: a new account id is 1-64 ASCII letters" in answer.json()["detail"]
    assert world.live.book.account(new_id) is None


def test_a_new_tariff_provider_and_did_follow_the_rules_too(world):
    assert "new tariff id" in world.put("r1", "/v1/tariffs/t%20x", json={}).json()["detail"]
    assert "new provider id" in world.put("admin", "/v1/providers/p%E2%80%8B", json={"tariff": "t-p1"}).json()["detail"]
    assert "at most 32 digits" in world.put("admin", "/v1/dids/" + "3" * 33, json={}).json()["detail"]
    assert world.put("admin", "/v1/dids/+37052000077", json={}).status_code == 422  # digits only, as before
    good = world.put("admin", "/v1/accounts/u-9.a_b", json={"type": "user", "parent": "r1"})
    assert good.status_code == 200, good.text


def test_records_made_before_the_rules_keep_working():
    """Stored records are read as they are (the worker would drop a record it refuses, and its calls
    with it), and may be read and updated through the API under their old ids."""
    old = [{"kind": "account", "id": "u legacy \u0430", "type": "user", "parent": "r1", "tariff": "t-r1-retail",
            "name": "N" * 5_000},
           {"kind": "tariff", "id": "t " + "x" * 100, "owner": "r1", "rates": [{"prefix": "1", "rate": "1"}]}]
    world = World(records=[*RECORDS, *old])
    assert parse_reference_record(old[0]).name == "N" * 5_000
    path = "/v1/accounts/" + quote("u legacy \u0430")
    assert world.get("r1", path).json()["name"] == "N" * 5_000
    renamed = world.put("r1", path, json={"type": "user", "tariff": "t-r1-retail", "name": "Legacy"})
    assert renamed.status_code == 200, renamed.text
    tariff = "/v1/tariffs/" + quote("t " + "x" * 100)
    assert world.get("r1", tariff).status_code == 200
    assert world.put("r1", tariff + "/rates", content="prefix,rate\n370,3\n", headers=CSV).status_code == 200


# days: outside what ClickHouse holds (and any data), 422 at the door ------------------------------

@pytest.mark.parametrize("url", [
    "/v1/calls?from=9999-12-01&to=9999-12-31", "/v1/calls?from=1900-01-01&to=1900-01-02",
    "/v1/stats?from=2101-01-01&to=2101-01-02", "/v1/profit?from=9999-12-30&to=9999-12-31",
    "/v1/calls?from=2026-01-01&to=9999-12-31&format=csv"])
def test_far_days_are_refused_at_the_door(world, url):
    answer = world.get("admin", url)
    assert_problem(answer, 422)
    assert "from: " in answer.json()["detail"] or "to: " in answer.json()["detail"], answer.json()
    assert "2000-01-01" in answer.json()["detail"] and "2100-12-31" in answer.json()["detail"]


def test_a_rerate_of_far_days_is_refused_and_the_last_day_is_taken(world):
    answer = world.post("admin", "/v1/rerates", json={"from": "9999-12-01", "to": "9999-12-31", "dry_run": True})
    assert_problem(answer, 422)
    assert answer.json()["detail"].startswith("from: ")
    ok = world.get("admin", "/v1/calls?from=2100-12-01&to=2100-12-31")
    assert ok.status_code == 200 and ok.json()["rows"] == []


def test_the_portal_refuses_far_days_too(world):
    client, _ = portal_client(world, "r1")
    assert client.get("/calls?from=9999-12-01&to=9999-12-31").status_code == 422


# the transport: HSTS over TLS, no interactive docs unless asked for -------------------------------

def test_hsts_is_sent_over_https_only(world):
    secure = TestClient(world.app, base_url="https://api.example")
    answer = secure.get("/v1/accounts", headers=world.headers("r1"))
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" in secure.get("/login").headers
    assert "strict-transport-security" not in world.get("r1", "/v1/accounts").headers


def test_the_docs_pages_are_off_unless_asked_for_and_the_document_is_served(world):
    assert world.client.get("/docs").status_code == 404
    assert world.client.get("/redoc").status_code == 404
    document = world.client.get("/openapi.json").json()
    assert "413" in document["paths"]["/v1/tariffs/{id}/rates"]["put"]["responses"]
    with_docs = TestClient(create_app(world.backend, config=ApiConfig(secret="s", docs=True)))
    assert with_docs.get("/docs").status_code == 200
