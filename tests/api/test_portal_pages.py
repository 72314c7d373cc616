"""The portal on in-memory fakes: sign-in, CSRF, rate limiting, branding, forms."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.api_world import PASSWORD, World, portal_client


@pytest.fixture
def world() -> World:
    return World()


def login_form(client: TestClient, host: str = "testserver") -> str:
    page = client.get("/login", headers={"Host": host})
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_sign_in_sets_a_signed_httponly_samesite_cookie(world):
    client = TestClient(world.app)
    token = login_form(client)
    answer = client.post("/login", data={"account": "r1", "password": PASSWORD, "csrf": token, "next": "/users"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/users"
    cookie = [c for c in answer.headers.get_list("set-cookie") if c.startswith("rp_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/users").status_code == 200
    client.cookies.set("rp_session", client.cookies["rp_session"][:-2] + "xx")  # tampered
    assert client.get("/users", follow_redirects=False).status_code == 303


def test_sign_in_needs_the_forms_csrf_token_and_the_right_password(world):
    client = TestClient(world.app)
    login_form(client)
    answer = client.post("/login", data={"account": "r1", "password": PASSWORD, "csrf": "forged"})
    assert answer.status_code == 400 and "rp_session" not in client.cookies
    token = login_form(client)
    answer = client.post("/login", data={"account": "r1", "password": "wrong password", "csrf": token})
    assert answer.status_code == 401 and "Unknown account or wrong password" in answer.text


def test_login_attempts_are_rate_limited(world):
    client = TestClient(world.app)
    for _ in range(world.backend.config.login_attempts):
        token = login_form(client)
        assert client.post("/login", data={"account": "r1", "password": "nope nope", "csrf": token}).status_code == 401
    token = login_form(client)
    answer = client.post("/login", data={"account": "r1", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert answer.status_code == 429 and "rp_session" not in client.cookies  # even the right password waits


def test_next_never_redirects_to_another_site(world):
    client = TestClient(world.app)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        token = login_form(client)
        answer = client.post("/login", data={"account": "r1", "password": PASSWORD, "csrf": token, "next": target},
                             follow_redirects=False)
        assert answer.headers["location"] == "/"


def test_a_form_without_the_sessions_csrf_token_changes_nothing(world):
    client, _ = portal_client(world, "r1")
    answer = client.post("/users", data={"id": "u7", "name": "x", "csrf": "forged"})
    assert answer.status_code == 422 and "csrf" in answer.text
    assert world.live.book.account("u7") is None and world.writer.published == []


def test_the_login_page_shows_the_resellers_brand_for_his_domain(world):
    client = TestClient(world.app)
    branded = client.get("/login", headers={"Host": "portal.reseller-one.example"}).text
    plain = client.get("/login").text
    assert "Reseller One Telecom" in branded and "Reseller One Telecom" not in plain


def test_a_users_pages_carry_his_resellers_brand(world):
    client, _ = portal_client(world, "u1")
    page = client.get("/").text
    assert "Reseller One Telecom" in page and "Second Reseller" not in page
    assert client.get("/users", follow_redirects=False).status_code == 404  # users manage nothing


def test_a_reseller_creates_a_user_and_sees_it(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/users", data={"id": "u7", "name": "Carol", "tariff": "t-r1-retail", "billing": "postpaid",
                                         "credit_limit": "25", "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/users/u7?done=saved"
    created = world.live.book.account("u7")
    assert (created.parent, created.tariff, created.billing, str(created.credit_limit)) == ("r1", "t-r1-retail", "postpaid", "25")
    assert "Carol" in client.get("/users").text


def test_a_bad_csv_upload_shows_every_bad_line_and_saves_nothing(world):
    client, csrf = portal_client(world, "r1")
    body = b"prefix,rate\n370,2\n3x,1\n371,abc\n"
    answer = client.post("/tariffs/t-r1-retail/rates", data={"csrf": csrf},
                         files={"rates": ("retail.csv", body, "text/csv")})
    assert answer.status_code == 422
    assert "retail.csv was not accepted: 2 problems" in answer.text
    assert 'line 3, column &#34;prefix&#34;' in answer.text and 'line 4, column &#34;rate&#34;' in answer.text
    assert world.writer.published == []


def test_a_new_tariff_from_a_csv_upload_and_its_assignment(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/tariffs", data={"id": "t-new", "currency": "EUR", "csrf": csrf},
                         files={"rates": ("new.csv", b"prefix,rate\n370,2.5\n44,1\n", "text/csv")}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert world.get("r1", "/v1/tariffs/t-new").json()["rate_count"] == 2
    answer = client.post("/users/u1", data={"name": "Alice Uno", "tariff": "t-new", "billing": "prepaid", "csrf": csrf},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert world.live.book.account("u1").tariff == "t-new"


def test_sign_out_ends_the_session(world):
    client, csrf = portal_client(world, "r1")
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).headers["location"] == "/login?done=out"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_every_page_renders_for_every_role(world):
    pages = {"admin": ["/", "/users", "/users/r1", "/tariffs", "/tariffs/t-p1", "/dids", "/payments", "/calls", "/profit",
                       "/invoices", "/branding"],
             "r1": ["/", "/users", "/users/u1", "/tariffs", "/tariffs/t-r1-retail", "/dids", "/payments", "/calls",
                    "/profit", "/calls.csv", "/invoices", "/invoices/R1-2026-000001.pdf", "/branding"],
             "u1": ["/", "/calls", "/calls.csv", "/invoices", "/invoices/R1-2026-000001.pdf"]}
    for account, urls in pages.items():
        client, _ = portal_client(world, account)
        for url in urls:
            answer = client.get(url)
            assert answer.status_code == 200, (account, url, answer.text[:300])


def png_logo() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 40), (220, 38, 38)).save(out, format="PNG")
    return out.getvalue()


def test_a_resellers_logo_and_details_head_his_and_his_users_pages(world):
    client, csrf = portal_client(world, "r1")
    logo = png_logo()
    answer = client.post("/branding", data={"company": "Uno Telecom GmbH", "number_prefix": "UNO", "csrf": csrf},
                         files={"logo": ("logo.png", logo, "image/png")}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert client.get("/brand/logo").content == logo
    assert "Uno Telecom GmbH" in client.get("/").text
    user, _ = portal_client(world, "u1")
    assert "Uno Telecom GmbH" in user.get("/").text and user.get("/brand/logo").content == logo
    anonymous = TestClient(world.app)
    assert anonymous.get("/brand/logo", headers={"Host": "portal.reseller-one.example"}).content == logo
    assert anonymous.get("/brand/logo").status_code == 404  # no domain, no session: no brand
    other, _ = portal_client(world, "u2")
    assert other.get("/brand/logo").content != logo


def test_a_logo_that_is_not_an_image_is_refused_and_nothing_is_saved(world):
    client, csrf = portal_client(world, "r1")
    answer = client.post("/branding", data={"company": "Uno", "number_prefix": "UNO", "csrf": csrf},
                         files={"logo": ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                                         "image/svg+xml")})
    assert answer.status_code == 422 and "script" in answer.text
    assert "r1" not in world.live.issuers and "r1" not in world.live.logos


def test_pages_forbid_scripts_and_framing(world):
    client, _ = portal_client(world, "r1")
    for url in ("/", "/login", "/brand/logo"):
        headers = client.get(url).headers
        assert "script-src" not in headers["content-security-policy"]  # default-src 'none' covers scripts
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
