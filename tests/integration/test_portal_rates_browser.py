"""A reseller's rates page and password change in a real browser (Debian's chromium + chromedriver,
headless), against the real API on the local Kafka and ClickHouse: he adds a rate with its
destination, sees his cost and margin beside it, searches, schedules a new price from a date, then
changes his password, signs in again with it and makes an API token. Screenshots are kept in
tests/artifacts/portal/ (look at them)."""
from __future__ import annotations

import pytest

from devkit.bench_api import serving
from pipeline.api.app import production_app
from pipeline.api.config import ApiConfig
from tests.integration.api_kit import seed
from tests.integration.test_portal_browser import CHROMIUM, DRIVER, browser, shot, submit  # noqa: F401 (fixture)

PASSWORD = "browser test password"
NEW_PASSWORD = "a fresh browser passphrase"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")


def sign_in(browser, base: str, password: str, target: str = "/") -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/login?next={target}")
    browser.find_element(By.NAME, "account").send_keys("r1")
    browser.find_element(By.NAME, "password").send_keys(password)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))


def rows(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.rates tbody tr")]


def test_a_reseller_edits_his_rates_and_changes_his_password_in_the_browser(settings_factory, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings = settings_factory()
    seed(settings, accounts=("r1",), password=PASSWORD)
    app = production_app(settings, ApiConfig(secret="browser-rates-secret"))
    with serving(app) as base:
        sign_in(browser, base, PASSWORD, "/tariffs/t-r1-retail")
        assert browser.current_url.endswith("/tariffs/t-r1-retail"), browser.current_url
        assert "Your cost" in browser.find_element(By.ID, "rates").text

        form = browser.find_element(By.ID, "rate")
        form.find_element(By.NAME, "prefix").send_keys("3706")
        form.find_element(By.NAME, "destination").send_keys("Lithuania mobile")
        form.find_element(By.NAME, "rate").send_keys("0.09")
        form.find_element(By.NAME, "increment").send_keys("60")
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert "done=rate" in browser.current_url, browser.current_url
        added = [row for row in rows(browser) if row.startswith("3706")]
        assert added and "Lithuania mobile" in added[0] and "current" in added[0]
        cost_cells = browser.find_elements(By.XPATH, "//tr[td[1][normalize-space()='3706']]/td[contains(@class,'num')]")
        shown = [cell.text for cell in cost_cells]
        assert shown[0] == "0.09" and shown[-1].startswith("-"), shown  # below his cost: a negative margin

        # a new price from a date: the edit link fills the form, a later date adds the version
        browser.find_element(By.XPATH, "//tr[td[1][normalize-space()='3706']]//a[text()='Edit']").click()
        form = browser.find_element(By.ID, "rate")
        assert form.find_element(By.NAME, "rate").get_attribute("value") == "0.09"
        rate = form.find_element(By.NAME, "rate")
        rate.clear()
        rate.send_keys("0.15")
        browser.execute_script("arguments[0].value = '2099-01-01T00:00:00'",
                               form.find_element(By.NAME, "effective_from"))
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        statuses = [row for row in rows(browser) if row.startswith("3706")]
        assert len(statuses) == 2 and "scheduled" in statuses[0] and "current" in statuses[1], statuses

        search = browser.find_element(By.ID, "rate-search")
        search.find_element(By.NAME, "destination").send_keys("mobile")
        Select(search.find_element(By.NAME, "status")).select_by_value("current")
        submit(browser, search.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        found = rows(browser)
        assert len(found) == 1 and found[0].startswith("3706") and "0.09" in found[0], found
        assert "destination=mobile" in browser.find_element(By.ID, "rates-csv").get_attribute("href")
        browser.set_window_size(1400, 2100)  # the whole page: rates, the rate form, archiving
        browser.get(f"{base}/tariffs/t-r1-retail")
        shot(browser, "10-rates-with-your-cost")
        browser.set_window_size(1400, 1000)

        browser.get(f"{base}/account")
        form = browser.find_element(By.ID, "password")
        form.find_element(By.NAME, "current").send_keys(PASSWORD)
        form.find_element(By.NAME, "new").send_keys(NEW_PASSWORD)
        form.find_element(By.NAME, "repeat").send_keys(NEW_PASSWORD)
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert browser.current_url.endswith("/account?done=password"), browser.current_url
        assert "Password changed" in browser.find_element(By.CSS_SELECTOR, ".flash.ok").text
        shot(browser, "11-password-changed")

        browser.delete_all_cookies()
        sign_in(browser, base, PASSWORD)
        assert "/login" in browser.current_url and "wrong password" in browser.page_source
        sign_in(browser, base, NEW_PASSWORD, "/account/tokens")
        assert browser.current_url.endswith("/account/tokens"), browser.current_url
        form = browser.find_element(By.ID, "new-token-form")
        form.find_element(By.NAME, "expires_days").send_keys("30")
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        token = browser.find_element(By.ID, "token-value").text
        assert "." in token and len(token) > 40
        shot(browser, "12-api-token-shown-once")

        # his user's sign-in: a one-time link, shown once on the user page
        browser.get(f"{base}/users/u1")
        submit(browser, browser.find_element(By.CSS_SELECTOR, "#reset-link-form button[type=submit]"))
        link = browser.find_element(By.CSS_SELECTOR, "#reset-link .secret").text
        assert link.startswith(base + "/reset/"), link
        browser.execute_script("document.getElementById('logins').scrollIntoView()")
        shot(browser, "13-user-one-time-link")
        browser.delete_all_cookies()
        browser.get(link)
        form = browser.find_element(By.ID, "reset")
        form.find_element(By.NAME, "password").send_keys(NEW_PASSWORD)
        form.find_element(By.NAME, "repeat").send_keys(NEW_PASSWORD)
        submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert browser.current_url.endswith("/login?done=reset-done"), browser.current_url
