"""The dashboard in headless Chromium, against the real ASGI app served by uvicorn: the page loads, the
charts draw from the stats API, and a request made to the gateway appears at the top of the live tail.

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/test.sh installs them). Set
DASHBOARD_SCREENSHOT=path.png to keep a picture of the page with its data.
"""

import datetime
import os
import shutil
import time
import uuid

import httpx
import pytest
from django.contrib.auth.models import User

from gateway.models import ApiKey
from providers.models import ModelPrice, ModelRoute, Provider, RouteTarget
from stats.aggregation import today
from stats.tests.data import add_log, at
from tests.support.server import GatewayServer, settle

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in requirements-dev.txt")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="headless Chromium not installed: apt-get install chromium chromium-driver"),
    pytest.mark.django_db(transaction=True),
]

# Flags that keep Chromium from hanging on a machine without a network, a GPU or a big /dev/shm.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1900")
KEY = "sk-gw-dashboard-browser-key"
PASSWORD = "dashboard-pw-1"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        gateway = GatewayServer().start()
    yield gateway
    gateway.stop()


@pytest.fixture
def usage(transactional_db):
    """A mock provider to call, and a week of log rows for the charts."""
    provider = Provider.objects.create(name="mock", type="mock")
    route = ModelRoute.objects.create(model="mock-*")
    RouteTarget.objects.create(route=route, provider=provider, position=0)
    ModelPrice.objects.create(model="mock-*", input_per_million=3, output_per_million=15)
    key = ApiKey(name="browser")
    key.set_key(KEY)
    key.save()
    for back, (model, count, errors) in enumerate([("mock-large", 9, 1), ("mock-small", 5, 0), ("mock-large", 6, 2)]):
        day = today() - datetime.timedelta(days=back + 1)
        for n in range(count):
            add_log(at(day, 10, n), provider=provider, api_key=key, client_format="openai", upstream_model=model,
                    status_code=502 if n < errors else 200, prompt_tokens=400 + 40 * n, completion_tokens=120,
                    cost="0.0030", latency_ms=300 + 45 * n, ttft_ms=90 + 10 * n)
    yield
    settle()


def chromium(profile) -> "webdriver.Chrome":
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def dashboard(server, usage, tmp_path):
    """Chromium on the dashboard, logged in as staff. It quits while the test still holds the database:
    the tail's consumer closes its connections when the WebSocket goes."""
    User.objects.create_user("operator", password=PASSWORD, is_staff=True)
    browser = chromium(tmp_path / "profile")
    try:
        browser.get(f"{server.url}/admin/login/?next=/admin/dashboard/")
        browser.find_element(By.ID, "id_username").send_keys("operator")
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/admin/dashboard/"))
        yield browser
    finally:
        browser.quit()
    deadline = time.monotonic() + 10
    while server.server.server_state.tasks and time.monotonic() < deadline:
        time.sleep(0.05)


def call_gateway(server, request_id: str):
    body = {"model": "mock-dashboard", "messages": [{"role": "user", "content": "three little words"}]}
    headers = {"authorization": f"Bearer {KEY}", "x-request-id": request_id}
    response = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    settle()  # the log writer stores the row and publishes it to the tail


def tail_ids(browser) -> list:
    # Read in one script: the tail redraws its rows as messages arrive, so an element found in one call can be
    # gone by the next.
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#gw-tail tbody tr'), row => row.dataset.requestId);")


def tail_row_text(browser, request_id: str) -> str:
    return browser.execute_script(
        "const row = document.querySelector(`#gw-tail tr[data-request-id=\"${arguments[0]}\"]`);"
        "return row ? row.innerText : '';", request_id)


def test_the_dashboard_draws_the_stats_and_tails_new_requests(server, dashboard):
    browser = dashboard
    wait = WebDriverWait(browser, 15)

    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#chart-requests svg rect")) >= 3)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-requests svg rect.gw-err")) == 2  # two days had errors
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-tokens svg rect")
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-cost svg rect")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-latency svg circle")) == 6  # 3 days, 2 lines
    wait.until(lambda b: "mock-large" in b.find_element(By.ID, "top-models").text)
    assert "mock-small" in browser.find_element(By.ID, "top-models").text
    assert "mock" in browser.find_element(By.ID, "top-providers").text
    assert "browser" in browser.find_element(By.ID, "top-keys").text
    assert "20" in browser.find_element(By.ID, "gw-summary").text  # 9 + 5 + 6 requests
    assert browser.find_element(By.ID, "gw-error").get_attribute("hidden")

    wait.until(lambda b: b.find_element(By.ID, "gw-tail-state").text == "live")
    first, second = (f"req_dash_{uuid.uuid4().hex[:12]}" for _ in range(2))
    call_gateway(server, first)
    wait.until(lambda b: first in tail_ids(b))
    call_gateway(server, second)
    wait.until(lambda b: second in tail_ids(b))
    ids = tail_ids(browser)
    assert ids.index(second) < ids.index(first)  # the newest on top
    row = tail_row_text(browser, second)
    assert "mock-dashboard" in row and "mock" in row and "200" in row

    if os.environ.get("DASHBOARD_SCREENSHOT"):
        browser.save_screenshot(os.environ["DASHBOARD_SCREENSHOT"])
    errors = [e["message"] for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == []
