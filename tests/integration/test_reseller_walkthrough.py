"""A reseller's whole business in the portal, in a real browser (Debian's chromium + chromedriver,
headless), against the real API, a real worker, Kafka and ClickHouse.

The operator's own setup is the only thing not done in the portal: the admin account, his first
password and his carrier (provider p1 with its cost tariff). The portal has no provider pages, and
someone has to exist before anyone can sign in. Everything after that is clicks:

The admin, before the reseller starts (Tariffs, Accounts, Payments, DIDs):
    creates the reseller's buy tariff, the reseller r1 (with his password), tops up r1's prepaid
    balance and creates a DID for r1.

The seven acts of MOR's Reseller Addon ("when this user logs into the system he is able to"):
    1. create tariffs: r1 uploads his sell tariff as CSV (Tariffs);
    2. create users: r1 creates u1 with a portal password (Users);
    3. set up his tariff and assign it to his users: adds a rate on the tariff page, assigns the
       tariff on u1's page;
    4. view calls and other stats for his own users: a call sent to cdr.raw afterwards is rated at
       his rate and shows on his calls page with totals (Calls), and his usage per user (Usage);
    5. add his own logo to the GUI: his pages and his user's show it (Branding);
    6. customize the invoice with his details: company, prefix, tax, payment terms (Branding);
    7. calculate his own profit: the Profit page, equal to ClickHouse's sum.

And the rest of his day:
    - assigns the admin's DID to u1 and sets the owner rate u1 pays him (DIDs, the DID's page);
      a call to the DID charges u1 exactly that rate;
    - u1 signs in with the password r1 gave him, and changes it himself (Password and sessions);
    - r1 records u1's payment, and a refund with its reason (Payments): the balance drops exactly;
    - r1 invoices u1 for last month (Invoices): subtotal, tax, total and due date as set.

Screenshots: tests/artifacts/portal/walkthrough-NN-<act>.png (look at them), and the calls page at
400 px wide, which must not scroll sideways."""
from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from devkit.bench_api import serving
from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from pipeline.api.kafka_backend import ensure_api_topics, publish_logins
from pipeline.control_topic import current_balances
from pipeline.kafka.topic_io import produce_all
from pipeline.sinks.clickhouse import connect
from tests.integration.kit import seed_reference, start_worker
from tests.integration.test_portal_browser import ARTIFACTS, CHROMIUM, DRIVER, LOGO, browser, submit  # noqa: F401 (browser: a fixture)

ADMIN_PASSWORD = "the operator's own passphrase"
R1_PASSWORD = "reseller one passphrase"
U1_PASSWORD = "given by his reseller"
U1_NEW_PASSWORD = "chosen by the user himself"
DID = "37052000001"
# the operator's own setup, the one thing done outside the portal (it has no provider pages)
OPERATOR = [
    {"kind": "account", "id": "admin", "type": "admin", "name": "The Operator"},
    {"kind": "tariff", "id": "t-p1", "owner": "admin", "currency": "EUR",
     "rates": [{"prefix": "370", "rate": "0.3"}, {"prefix": "44", "rate": "0.1"}]},
    {"kind": "provider", "id": "p1", "owner": "admin", "tariff": "t-p1"},
]
BUY_CSV = ("prefix,rate,increment,destination\n370,1.2,1,Lithuania\n3706,1.2,1,Lithuania mobile\n"
           "44,0.4,1,United Kingdom\n")
SELL_CSV = "prefix,rate,increment,destination\n370,2,1,Lithuania\n44,0.9,1,United Kingdom\n"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")


# the browser's hands ----------------------------------------------------------------------------

def by_css(browser, selector: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector)


def fill(form, **values: str) -> None:
    """Type into the form's fields by name; a select is chosen by its option's value."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        elif field.get_attribute("type") == "file":
            field.send_keys(value)
        elif field.get_attribute("type") in ("date", "datetime-local"):  # typing a date depends on the locale
            field.parent.execute_script("arguments[0].value = arguments[1]", field, value)
        else:
            field.clear()
            field.send_keys(value)


def send(browser, form_selector: str, **values: str) -> None:
    form = by_css(browser, form_selector)
    fill(form, **values)
    submit(browser, form.find_element("css selector", "button[type=submit]"))


def sign_in(browser, base: str, account: str, password: str, target: str = "/") -> None:
    browser.delete_all_cookies()
    browser.get(f"{base}/login?next={target}")
    send(browser, "form", account=account, password=password)


def walk_shot(browser, number: int, act: str, full_page: bool = True) -> None:
    """A screenshot of the act; the window grows to the page's height first so nothing is cut."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = browser.get_window_size()["width"]
    if full_page:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(height + 140, 700), 4000))
    browser.save_screenshot(str(ARTIFACTS / f"walkthrough-{number:02d}-{act}.png"))
    if full_page:
        browser.set_window_size(width, 1000)


def flash(browser) -> str:
    return by_css(browser, ".flash").text


def text_of(browser, selector: str) -> str:
    """The element's text, spaces collapsed, in lower case (labels are upper case by CSS)."""
    return " ".join(by_css(browser, selector).text.split()).lower()


def money(text: str) -> str:
    """"1,234.50" as shown -> "1234.50": the page's thousands separator away."""
    return text.replace(",", "")


def wait_until(what: str, check, timeout: float = 90, worker=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    tail = worker.log_tail() if worker is not None else ""
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{tail}")


def balance_on_page(browser, base: str, account: str) -> Decimal:
    """The balance the account's page shows (its KPI), as a Decimal."""
    browser.get(f"{base}/users/{account}")
    shown = by_css(browser, ".kpi .value").text.split()[0]
    return Decimal(money(shown))


def download(browser, url: str) -> bytes:
    """The bytes behind a link, fetched with the browser's session cookies."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookies}), timeout=60) as answer:
        return answer.read()


def clickhouse_rows(settings, sql: str) -> list[tuple]:
    client = connect(settings)
    try:
        return client.execute(sql.format(db=settings.clickhouse_database))
    finally:
        client.disconnect()


def balances(settings) -> dict[str, Decimal]:
    return asyncio.run(current_balances(settings))


# the walk -----------------------------------------------------------------------------------------

def test_a_reseller_runs_his_business_alone_in_the_portal(settings_factory, browser, tmp_path):
    settings = settings_factory()
    operator = tmp_path / "operator.json"
    operator.write_bytes(orjson.dumps(OPERATOR))

    async def bootstrap() -> None:
        await seed_reference(settings, operator)
        await ensure_api_topics(settings)
        await publish_logins(settings, ["admin"], ADMIN_PASSWORD)

    asyncio.run(bootstrap())
    today = datetime.now(timezone.utc).date()
    last_month_day = today.replace(day=1) - timedelta(days=1)  # calls last month: invoiceable today
    period = last_month_day.strftime("%Y-%m")
    call_time = datetime.combine(last_month_day.replace(day=min(20, last_month_day.day)),
                                 datetime.min.time(), timezone.utc) + timedelta(hours=10)
    app = production_app(settings, ApiConfig(secret="walkthrough-secret"))
    worker = start_worker(settings)  # payments move balances through it, as in production
    try:
        with serving(app) as base:
            admin_prepares(browser, base, settings, worker, tmp_path)
            reseller_builds(browser, base, tmp_path)
            user_signs_in(browser, base)
            calls_are_rated(browser, base, settings, worker, call_time)
            reseller_reads_and_bills(browser, base, settings, worker, period, today)
    finally:
        worker.kill()


def admin_prepares(browser, base, settings, worker, tmp_path) -> None:
    """The admin in the portal: r1's buy tariff, r1 himself, his money, his DID."""
    sign_in(browser, base, "admin", ADMIN_PASSWORD, "/tariffs")
    assert browser.current_url.endswith("/tariffs"), browser.current_url
    buy = tmp_path / "r1-buy.csv"
    buy.write_text(BUY_CSV)
    send(browser, "#new-tariff", id="t-r1-buy", rates=str(buy))
    assert browser.current_url.endswith("/tariffs/t-r1-buy?done=saved"), browser.current_url
    assert text_of(browser, ".kpi .value") == "3"  # three rates read from the CSV

    browser.get(f"{base}/users")
    send(browser, "#new-user", id="r1", name="Uno Telecom", password=R1_PASSWORD, type="reseller",
         server="ast1", tariff="t-r1-buy", billing="prepaid", email="billing@uno.example")
    assert browser.current_url.endswith("/users/r1?done=saved"), browser.current_url
    assert "reseller · r1" in text_of(browser, "body"), text_of(browser, "body")
    walk_shot(browser, 1, "admin-creates-the-reseller")

    browser.get(f"{base}/payments")
    send(browser, "#payment", account="r1", kind="payment", amount="100")
    assert browser.current_url.endswith("/payments?done=paid"), browser.current_url
    wait_until("r1's 100 on his page", lambda: balance_on_page(browser, base, "r1") == Decimal("100"),
               worker=worker)
    assert balances(settings)["r1"] == Decimal("100")
    browser.get(f"{base}/payments")
    walk_shot(browser, 2, "admin-tops-up-the-reseller")

    browser.get(f"{base}/dids")
    send(browser, "#new-did", number=DID, reseller="r1", incoming_rate="0.1", owner_rate="0.5",
         provider_rate="0.02")
    assert browser.current_url.endswith(f"/dids/{DID}?done=saved"), browser.current_url
    assert "reseller r1" in text_of(browser, "body") and "not assigned" in text_of(browser, "body")
    walk_shot(browser, 3, "admin-creates-a-did-for-the-reseller")


def reseller_builds(browser, base, tmp_path) -> None:
    """Acts 1, 2, 3, 5 and 6, and the DID: what r1 sets up before his user calls."""
    sign_in(browser, base, "r1", R1_PASSWORD, "/tariffs")
    assert browser.current_url.endswith("/tariffs"), browser.current_url
    # act 1: his own tariff
    sell = tmp_path / "uno-retail.csv"
    sell.write_text(SELL_CSV)
    send(browser, "#new-tariff", id="t-uno-retail", rates=str(sell))
    assert browser.current_url.endswith("/tariffs/t-uno-retail?done=saved"), browser.current_url
    assert text_of(browser, ".kpi .value") == "2"
    assert "owner r1" in text_of(browser, "body")  # his, not the operator's
    walk_shot(browser, 4, "act1-reseller-creates-his-tariff")

    # act 2: a user, with the password he will sign in with
    browser.get(f"{base}/users")
    send(browser, "#new-user", id="u1", name="Vilma Client", password=U1_PASSWORD,
         email="vilma@client.example", address="Pilies g. 5\n01123 Vilnius")
    assert browser.current_url.endswith("/users/u1?done=saved"), browser.current_url
    assert "user · u1" in text_of(browser, "body")
    walk_shot(browser, 5, "act2-reseller-creates-a-user")

    # act 3: his tariff set up (a rate of his own beside his cost) and assigned to the user
    browser.get(f"{base}/tariffs/t-uno-retail")
    send(browser, "#rate", prefix="3706", destination="Lithuania mobile", rate="3", increment="1")
    assert "done=rate" in browser.current_url, browser.current_url
    row = " ".join(browser.find_element(
        "xpath", "//table[contains(@class,'rates')]//tr[td[1][normalize-space()='3706']]").text.split())
    assert "Lithuania mobile" in row and "current" in row, row
    assert "1.2" in row and "1.8" in row, row  # his cost (the admin's 3706) and his margin
    walk_shot(browser, 6, "act3-reseller-adds-a-rate-beside-his-cost")
    browser.get(f"{base}/users/u1")
    send(browser, "form.form-grid", tariff="t-uno-retail")
    assert browser.current_url.endswith("/users/u1?done=saved")
    assert "t-uno-retail" in text_of(browser, ".kpis")
    walk_shot(browser, 7, "act3-reseller-assigns-his-tariff-to-the-user")

    # the admin's DID: r1 gives it to u1 and sets what u1 pays him for it
    browser.get(f"{base}/dids")
    row = browser.find_element("xpath", f"//tr[td[contains(., '+{DID}')]]")
    fill(row, user="u1")
    submit(browser, row.find_element("css selector", "button[type=submit]"))
    assert browser.current_url.endswith("/dids?done=saved"), browser.current_url
    browser.get(f"{base}/dids/{DID}")
    send(browser, "#did-form", owner_rate_rate="0.8")
    assert browser.current_url.endswith(f"/dids/{DID}?done=saved"), browser.current_url
    assert by_css(browser, "input[name=owner_rate_rate]").get_attribute("value").rstrip("0") == "0.8"
    browser.get(f"{base}/dids")
    listed = " ".join(browser.find_element("xpath", f"//tr[td[contains(., '+{DID}')]]").text.split())
    assert "u1" in listed and re.search(r"\b0\.80*/min", listed), listed
    walk_shot(browser, 8, "reseller-assigns-the-did-and-its-owner-rate")

    # act 5: his logo; act 6: his invoice details (one tax, 14 days to pay)
    logo = tmp_path / "uno.svg"
    logo.write_text(LOGO)
    browser.get(f"{base}/branding")
    send(browser, "#branding", company="Uno Telecom UAB", number_prefix="UNO", vat_id="LT100001",
         address="Gedimino pr. 1\n01103 Vilnius", email="billing@uno.example", payment_terms_days="14",
         tax_name_1="VAT", tax_percent_1="21", logo=str(logo))
    assert browser.current_url.endswith("/branding?done=saved"), browser.current_url
    assert by_css(browser, "img.brand-logo").get_attribute("naturalWidth") != "0"
    assert by_css(browser, "input[name=tax_percent_1]").get_attribute("value") == "21"
    assert by_css(browser, "input[name=payment_terms_days]").get_attribute("value") == "14"
    walk_shot(browser, 9, "act5-6-reseller-logo-and-invoice-details")

    # u1 needs credit before he calls (prepaid)
    browser.get(f"{base}/payments")
    send(browser, "#payment", account="u1", kind="payment", amount="20")
    assert browser.current_url.endswith("/payments?done=paid"), browser.current_url


def user_signs_in(browser, base) -> None:
    """u1 with the password r1 gave him: his reseller's brand, then his own new password."""
    sign_in(browser, base, "u1", U1_PASSWORD)
    assert "/login" not in browser.current_url, browser.current_url
    assert by_css(browser, ".brand-name").get_attribute("textContent").strip().startswith("Uno Telecom")
    assert by_css(browser, "img.brand-logo").get_attribute("naturalWidth") != "0"
    assert "20.00" in text_of(browser, ".kpi .value")  # the payment r1 recorded for him
    walk_shot(browser, 10, "user-signs-in-with-the-password-his-reseller-set")

    browser.get(f"{base}/account")
    send(browser, "#password", current=U1_PASSWORD, new=U1_NEW_PASSWORD, repeat=U1_NEW_PASSWORD)
    assert browser.current_url.endswith("/account?done=password"), browser.current_url
    assert "Password changed" in flash(browser)
    walk_shot(browser, 11, "user-changes-his-own-password")
    sign_in(browser, base, "u1", U1_PASSWORD)
    assert "/login" in browser.current_url and "wrong password" in browser.page_source
    sign_in(browser, base, "u1", U1_NEW_PASSWORD)
    assert "/login" not in browser.current_url, browser.current_url


def calls_are_rated(browser, base, settings, worker, call_time) -> None:
    """Two calls last month: u1 dials a Lithuanian mobile (his reseller's new 3706 rate, 3/min) and
    someone outside calls u1's DID (r1's owner rate, 0.8/min). 60 s each."""
    common = {"server_id": "ast1", "start_time": call_time.isoformat().replace("+00:00", "Z"), "billsec": 60,
              "provider": "p1"}
    cdrs = [{**common, "call_id": "walk-out", "account": "u1", "src": DID, "dst": "37060012345"},
            {**common, "call_id": "walk-did", "account": "", "src": "4420700000", "dst": DID, "did": DID}]
    asyncio.run(produce_all(settings, "cdr.raw", [(c["call_id"].encode(), orjson.dumps(c)) for c in cdrs]))
    rows = wait_until("both calls in rated_calls", lambda: (found := clickhouse_rows(settings, (
        "SELECT call_id, toString(user_price), toString(reseller_price), toString(reseller_profit), "
        "toString(did_owner_price), toString(did_reseller_owner_price) FROM {db}.rated_calls FINAL "
        "ORDER BY call_id"))) and len(found) == 2 and found, worker=worker)
    exact = {call: tuple(map(Decimal, prices)) for call, *prices in rows}
    # user price, reseller price, reseller profit, owner leg (u1 -> r1), owner leg (r1 -> admin)
    assert exact["walk-out"][:3] == (Decimal("3"), Decimal("1.2"), Decimal("1.8")), exact
    assert exact["walk-did"][2:] == (Decimal("0.3"), Decimal("0.8"), Decimal("0.5")), exact
    # the balances: u1 20 - 3 - 0.8, r1 100 - 1.2 - 0.5
    wait_until("u1 and r1 charged", lambda: (b := balances(settings)).get("u1") == Decimal("16.2")
               and b.get("r1") == Decimal("98.3") and b, worker=worker)

    # u1 sees his call at his reseller's price, and what is left of his credit
    sign_in(browser, base, "u1", U1_NEW_PASSWORD, "/calls")
    row = " ".join(browser.find_element("xpath", "//tr[td[contains(., '37060012345')]]").text.split())
    assert "3.0000 EUR" in row and "1.2000" not in row, row  # never his reseller's cost
    # the call to his DID is his call too, at his own price (what r1 pays for it is not his to see)
    did_row = " ".join(browser.find_element("xpath", "//tr[td[contains(., '4420700000')]]").text.split())
    assert "0.8000 EUR" in did_row and "0.5000" not in did_row and "0.3000" not in did_row, did_row
    totals = text_of(browser, "#call-totals")
    assert re.search(r"calls 2\b", totals) and re.search(r"spent 3\.80\b", totals), totals  # 20 - 16.20
    walk_shot(browser, 12, "user-sees-his-call")
    browser.get(f"{base}/")
    assert "16.20" in text_of(browser, ".kpi .value")


def reseller_reads_and_bills(browser, base, settings, worker, period, today) -> None:
    """Acts 4 and 7, the refund and the invoice, as r1; the phone check of the calls page."""
    sign_in(browser, base, "r1", R1_PASSWORD, "/calls")
    assert browser.current_url.endswith("/calls"), browser.current_url
    # act 4: his users' calls, with totals over the whole filter
    out_row = " ".join(browser.find_element("xpath", "//tr[td[contains(., '37060012345')]]").text.split())
    assert "3.0000 EUR" in out_row and "1.2000" in out_row and "1.8000" in out_row, out_row
    did_row = " ".join(browser.find_element("xpath", "//tr[td[contains(., '4420700000')]]").text.split())
    assert "outside caller" in did_row and "· DID" in did_row and "0.3000" in did_row, did_row
    # u1 paid him 0.80 for it, he paid the admin 0.50
    assert "0.8000 EUR" in did_row and "0.5000" in did_row, did_row
    totals = text_of(browser, "#call-totals")
    assert re.search(r"calls 2\b", totals) and "2.00 min" in totals, totals
    assert re.search(r"your profit 2\.10\b", totals), totals  # 1.8 on the call out + 0.3 on the DID
    # what his user paid him (3.00 + 0.80) and what he paid the admin (1.20 + 0.50: his balance)
    assert re.search(r"user price 3\.80\b", totals) and re.search(r"reseller price 1\.70\b", totals), totals
    profit_in_clickhouse = clickhouse_rows(settings, "SELECT toString(sum(reseller_profit)) FROM {db}.rated_calls "
                                                     "FINAL WHERE reseller = 'r1'")[0][0]
    assert Decimal(profit_in_clickhouse) == Decimal("2.1")
    walk_shot(browser, 13, "act4-reseller-sees-his-users-calls-with-totals")

    send(browser, "form.filters", account="u1", dst="3706")
    totals = text_of(browser, "#call-totals")
    assert re.search(r"calls 1\b", totals) and re.search(r"user price 3\.00\b", totals), totals

    # act 7: his profit over last month, by the Profit page's own form
    first = today.replace(day=1) - timedelta(days=1)
    browser.get(f"{base}/profit")
    send(browser, "form.filters", **{"from": first.replace(day=1).isoformat(), "to": first.isoformat()})
    profit = " ".join(browser.find_element("xpath", "//section[.//h2[.='Totals']]//tbody/tr").text.split())
    assert re.search(r"\b2\.10\b", profit), profit
    assert re.search(r"\b3\.80 EUR\b", profit) and re.search(r"\b1\.70\b", profit), profit  # revenue, cost
    walk_shot(browser, 15, "act7-reseller-profit")
    browser.get(f"{base}/usage")
    send(browser, "form.filters", **{"from": first.replace(day=1).isoformat(), "to": first.isoformat()})
    usage = " ".join(browser.find_element("xpath", "//table[@id='usage']//tr[td[contains(., 'u1')]]").text.split())
    assert "Vilma Client" in usage, usage
    # both calls on u1's row (the DID's too): revenue 3.80, cost 1.70, profit 2.10; no other row
    assert re.search(r"\b2 2 2\.00 3\.80 EUR 1\.70 2\.10\b", usage), usage
    assert len(browser.find_elements("xpath", "//table[@id='usage']/tbody/tr")) == 1
    walk_shot(browser, 14, "act4-reseller-usage-per-user")

    # a refund with its reason: u1's balance drops by exactly 5
    before = wait_until("u1 charged on his page", lambda: (b := balance_on_page(browser, base, "u1")) ==
                        Decimal("16.2") and b, worker=worker)
    browser.get(f"{base}/payments")
    send(browser, "#payment", account="u1", kind="refund", amount="5", reason="unused credit returned")
    assert browser.current_url.endswith("/payments?done=refunded"), browser.current_url
    after = wait_until("the refund applied", lambda: (b := balance_on_page(browser, base, "u1")) != before and b,
                       worker=worker)
    assert after == before - Decimal("5") == Decimal("11.2"), (before, after)
    assert balances(settings)["u1"] == Decimal("11.2")
    browser.get(f"{base}/payments")
    walk_shot(browser, 16, "reseller-refunds-his-user")

    # his user's invoice for last month: 3.00 out + 0.80 on the DID, VAT 21 %, 14 days to pay
    browser.get(f"{base}/invoices")
    assert by_css(browser, "#issue-invoice input[name=period]").get_attribute("value") == period
    send(browser, "#issue-invoice", account="u1")
    assert browser.current_url.endswith("/invoices?done=saved"), browser.current_url
    row = " ".join(browser.find_element("xpath", "//tr[td[contains(., 'UNO')]]").text.split())
    due = (today + timedelta(days=14)).isoformat()
    assert period in row and "Vilma Client" in row and due in row, row
    assert "3.80 EUR" in row and "4.60 EUR" in row, row  # 3.80 + 0.80 VAT (21 % of 3.80, 0.798 rounded)
    pdf = download(browser, by_css(browser, "a[href$='.pdf']").get_attribute("href"))
    assert pdf.startswith(b"%PDF-"), pdf[:200]
    walk_shot(browser, 17, "reseller-invoices-his-user")

    # the calls page on a phone: no sideways scrolling
    browser.set_window_size(400, 900)
    browser.get(f"{base}/calls")
    widths = browser.execute_script("return [document.scrollingElement.scrollWidth, window.innerWidth]")
    walk_shot(browser, 18, "calls-page-at-400px")
    assert widths[0] <= widths[1], widths
    browser.set_window_size(1400, 1000)
