"""The portal on a phone: at 400 CSS pixels wide no page of money and calls scrolls sideways (the
calls table stacks into one card per call). Debian's chromium, headless, on the in-memory app;
the screenshots are kept in tests/artifacts/portal/ (look at them)."""
from __future__ import annotations

import shutil

import pytest

from devkit.bench_api import serving
from pipeline.settings import REPO_ROOT
from tests.api.api_world import CALLS, PASSWORD, World, call

ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "portal"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WIDTH = 400
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
MORE_CALLS = [call("u1", "r1", f"c-u1-{n}", days_ago=n % 5, billsec=(n * 37) % 400, dst=f"3706{n:07d}",
                   src=f"+3706{n:07d}") for n in range(12)]


@pytest.fixture(scope="module")
def phone():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", f"--window-size={WIDTH},900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    # a phone's viewport, whatever the smallest window this chromium draws
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.quit()


def sign_in(driver, base: str, account: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.NAME, "account").send_keys(account)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda d: "/login" not in d.current_url and d.execute_script(
        "return document.readyState === 'complete'"))


def full_shot(driver, name: str) -> None:
    """The whole page, as tall as it is (up to 5,000 px), at the phone's width."""
    height = min(driver.execute_script("return document.documentElement.scrollHeight"), 5000)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": True})
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": True})


def overflow(driver) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scroll)."""
    return driver.execute_script(
        "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth")


@pytest.mark.parametrize("account, pages", [
    ("r1", ["/calls", "/usage", "/payments", "/dids", "/dids/37052000001"]),
    ("admin", ["/calls", "/usage", "/dids"]),
    ("u1", ["/calls", "/"]),
])
def test_no_money_page_scrolls_sideways_at_400_pixels(phone, account, pages):
    world = World(calls=CALLS + MORE_CALLS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serving(world.app) as base:
        sign_in(phone, base, account)
        assert phone.execute_script("return window.innerWidth") == WIDTH
        for page in pages:
            phone.get(base + page)
            name = page.strip("/").replace("/", "-") or "dashboard"
            assert overflow(phone) <= 0, f"{account} {page}: {overflow(phone)} px wider than the phone"
            full_shot(phone, f"phone-{account}-{name}")
        if "/calls" in pages:  # every call is still there, one card each, labels beside the values
            phone.get(base + "/calls")
            cards = phone.execute_script("return document.querySelectorAll('table.calls tbody tr').length")
            label = phone.execute_script(
                "return getComputedStyle(document.querySelector('table.calls td'), '::before').content")
            assert cards >= 3 and label == '"Start"'
            tallest = phone.execute_script("return Math.max(...[...document.querySelectorAll('table.calls td')]"
                                           ".map(td => td.getBoundingClientRect().height))")
            assert tallest < 32, f"a label and its value no longer share a line ({tallest} px)"
