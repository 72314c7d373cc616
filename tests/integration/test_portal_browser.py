"""A reseller in a real browser (Debian's chromium + chromium-driver, headless), against the real
API on the local Kafka and ClickHouse: he signs in, creates a user, uploads a CSV tariff, assigns
it; a CDR for that user goes through a real worker and the call shows on his calls page with his
user's price. Screenshots of every step are kept in tests/artifacts/portal/ (look at them)."""
from __future__ import annotations

import asyncio
import shutil
import time

import orjson
import pytest

from devkit.bench_api import serving
from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from pipeline.kafka.topic_io import produce_all
from pipeline.settings import REPO_ROOT
from tests.integration.api_kit import seed

ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "portal"
PASSWORD = "browser test password"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="240" height="64" viewBox="0 0 240 64">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#f97316"/>
<stop offset="1" stop-color="#db2777"/></linearGradient></defs>
<rect x="2" y="6" width="52" height="52" rx="14" fill="url(#g)"/>
<text x="28" y="43" font-family="Helvetica, Arial, sans-serif" font-size="30" font-weight="700" fill="#fff"
 text-anchor="middle">U</text>
<text x="66" y="42" font-family="Helvetica, Arial, sans-serif" font-size="27" font-weight="700" fill="#1f2937">Uno Telecom</text>
</svg>"""

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def submit(driver, button) -> None:
    """Click a form's button and wait until the next page has loaded: a click returns before the
    navigation, and the next get() could otherwise overtake it (the login's cookie).

    The old document is marked before the click and the wait is for a complete document without
    the mark. Asking whether the button went stale is not enough: chromedriver sometimes answers
    that question, mid-navigation, with "unhandled inspector error" instead of "stale", and any
    such answer from a page being torn down only means "not yet"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("document.documentElement.dataset.leaving = 'yes'")
    button.click()
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && !document.documentElement.dataset.leaving"))


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_a_reseller_sets_up_a_user_in_the_browser_and_sees_his_call(settings_factory, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings = settings_factory()
    seed(settings, accounts=("r1",), password=PASSWORD)
    app = production_app(settings, ApiConfig(secret="browser-test-secret"))
    with serving(app) as base:
        browser.get(f"{base}/calls")  # not signed in: the login page
        assert "/login" in browser.current_url
        shot(browser, "01-login")
        browser.find_element(By.NAME, "account").send_keys("r1")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        assert browser.current_url.endswith("/calls"), browser.current_url
        assert "/login" not in browser.current_url, browser.current_url
        browser.get(f"{base}/branding")
        logo = tmp_path / "uno.svg"
        logo.write_text(LOGO)
        form = browser.find_element(By.ID, "branding")
        form.find_element(By.NAME, "company").send_keys("Uno Telecom")
        form.find_element(By.NAME, "number_prefix").send_keys("UNO")
        form.find_element(By.NAME, "logo").send_keys(str(logo))
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert browser.current_url.endswith("/branding?done=saved"), browser.current_url
        browser.get(f"{base}/")
        assert "Uno Telecom" in browser.find_element(By.CSS_SELECTOR, ".brand-name").text
        assert browser.find_element(By.CSS_SELECTOR, "img.brand-logo").get_attribute("naturalWidth") != "0"
        shot(browser, "02-dashboard-with-logo")

        browser.get(f"{base}/users")
        form = browser.find_element(By.ID, "new-user")
        form.find_element(By.NAME, "id").send_keys("u-web")
        form.find_element(By.NAME, "name").send_keys("Webster Client")
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert browser.current_url.endswith("/users/u-web?done=saved"), browser.current_url
        shot(browser, "03-user-created")

        bad = tmp_path / "bad.csv"
        bad.write_text("prefix,rate\n370,3\n37a,1\n371,x\n")
        browser.get(f"{base}/tariffs")
        form = browser.find_element(By.ID, "new-tariff")
        form.find_element(By.NAME, "id").send_keys("t-web")
        form.find_element(By.NAME, "rates").send_keys(str(bad))
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        preview = browser.find_element(By.CSS_SELECTOR, ".preview").text
        assert "2 problems" in preview and "line 3" in preview and "line 4" in preview
        shot(browser, "04-csv-error-preview")

        good = tmp_path / "web-retail.csv"
        good.write_text("prefix,rate,increment\n370,3,1\n44,1.5,1\n1,0.6,6\n")
        form = browser.find_element(By.ID, "new-tariff")
        form.find_element(By.NAME, "id").clear()
        form.find_element(By.NAME, "id").send_keys("t-web")
        form.find_element(By.NAME, "rates").send_keys(str(good))
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert browser.current_url.endswith("/tariffs/t-web?done=saved"), browser.current_url
        assert "3" in browser.find_element(By.CSS_SELECTOR, ".kpi .value").text
        shot(browser, "05-tariff-uploaded")

        browser.get(f"{base}/users/u-web")
        Select(browser.find_element(By.NAME, "tariff")).select_by_value("t-web")
        submit(browser, browser.find_element(By.CSS_SELECTOR, "form.form-grid button[type=submit]"))
        assert browser.current_url.endswith("/users/u-web?done=saved")
        assert Select(browser.find_element(By.NAME, "tariff")).first_selected_option.get_attribute("value") == "t-web"
        shot(browser, "06-tariff-assigned")

        # the rated call: needs the worker (rating + ClickHouse sink)
        from tests.integration.kit import start_worker

        worker = start_worker(settings)
        try:
            cdr = {"call_id": "web-1", "server_id": "ast1", "account": "u-web", "dst": "37060012345",
                   "start_time": int(time.time()) - 120, "billsec": 60, "provider": "p1"}
            asyncio.run(produce_all(settings, "cdr.raw", [(b"web-1", orjson.dumps(cdr))]))
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                browser.get(f"{base}/calls?account=u-web")
                if "37060012345" in browser.page_source:
                    break
                time.sleep(1)
            else:
                raise AssertionError(f"the call never showed on the calls page\n{worker.log_tail()}")
        finally:
            worker.kill()
        row = browser.find_element(By.XPATH, "//tr[td[contains(., '37060012345')]]").text
        assert "3.0000 EUR" in row  # 60 s at 3/min: the user's price from the uploaded tariff
        assert "1.2000" in row  # the reseller's price (the admin's t-r-buy)
        shot(browser, "07-call-on-calls-page")
        browser.get(f"{base}/")
        shot(browser, "08-dashboard-after-the-call")
