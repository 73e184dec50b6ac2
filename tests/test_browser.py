"""The built site in headless Chromium: tabs, search, copy buttons, dark mode, and no network.

The site is served from 127.0.0.1 by http.server in a thread; every request the browser makes must
go there (no fonts, CDN scripts or api.github.com). Screenshots go to test-output/screenshots/.
"""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

try:  # tests/ may or may not be a package
    from .test_site import built_site_in
except ImportError:
    from test_site import built_site_in

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
PAGES = {
    "home": "",
    "circular-dependency": "how-to/circular-dependency/",
    "explanation": "explanation/how-the-runbooks-prove-the-pages/",
    "commands": "reference/commands/",
    "status": "status/",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    site = built_site_in(tmp_path_factory.getbasetemp()).site
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh page; after the test, every request it made must have gone to the local server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    yield page
    context.close()
    outside = [url for url in requests if not url.startswith(server) and not url.startswith("data:")]
    assert requests and outside == [], f"requests outside 127.0.0.1: {outside}"


def test_before_after_tabs_switch(page, server):
    page.goto(server + PAGES["circular-dependency"])
    tabs = page.locator(".tabbed-set").filter(has_text="accounts/models.py").first
    before, after = tabs.locator(".tabbed-block").nth(0), tabs.locator(".tabbed-block").nth(1)
    assert before.is_visible() and not after.is_visible()
    tabs.locator("label", has_text="AFTER").click()
    assert after.is_visible() and not before.is_visible()
    tabs.locator("label", has_text="BEFORE").click()
    assert before.is_visible() and not after.is_visible()


def test_search_finds_the_error(page, server):
    page.goto(server)
    query = page.locator("input.md-search__input")
    query.click()
    query.press_sequentially("CircularDependencyError", delay=10)  # Material searches on key events
    results = page.locator(".md-search-result__item > a")
    results.first.wait_for(timeout=10_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("how-to/circular-dependency/" in (href or "") for href in hrefs), hrefs


def test_code_blocks_have_a_copy_button(page, server):
    page.goto(server + PAGES["circular-dependency"])
    copy = "button.md-code__button[data-md-type='copy']"
    page.locator(copy).first.wait_for(state="attached")
    blocks = page.locator("div.language-console.highlight").count()
    buttons = page.locator(f"div.language-console.highlight {copy}").count()
    assert blocks > 0 and buttons == blocks


def test_dark_mode_toggle(page, server):
    page.goto(server)
    assert page.locator("body").get_attribute("data-md-color-scheme") == "default"
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    assert page.locator("body").get_attribute("data-md-color-scheme") == "slate"
    page.screenshot(path=str(SCREENSHOTS / "home-dark.png"), full_page=True)


@pytest.mark.parametrize("name", PAGES)
def test_screenshot(page, server, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    response = page.goto(server + PAGES[name])
    assert response is not None and response.ok
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
