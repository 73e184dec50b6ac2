"""The built site in headless Chromium: tabs, search, copy buttons, dark mode, accessibility, no network.

The site is served from 127.0.0.1 by http.server in a thread; every request the browser makes must
go there (no fonts, CDN scripts or api.github.com). Screenshots go to test-output/screenshots/.
Accessibility: axe-core (axe-playwright-python) on every page, light and dark.
"""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

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
def site(tmp_path_factory) -> Path:
    return built_site_in(tmp_path_factory.getbasetemp()).site


@pytest.fixture(scope="session")
def server(site, tmp_path_factory):
    """The site at site_url's path (/validated-runbooks/), where 404.html expects its assets."""
    path = urlsplit(yaml.safe_load((REPO / "mkdocs.yml").read_text())["site_url"]).path.strip("/")
    root = tmp_path_factory.mktemp("www")
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).symlink_to(site, target_is_directory=True)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{path}/"
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
    tabs = page.locator(".tabbed-set").filter(has_text="config/settings.py").first
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


def test_home_page_from_sqlite_records_alone_is_complete(page, server):
    """The session's site has SQLite records only, as after the README's `bash scripts/serve`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(server)
    index = page.locator("table").filter(has_text="You see")
    assert index.locator("tbody tr").count() >= 10
    assert index.locator("tbody tr").filter(has_text="CircularDependencyError").count() == 3  # three cycles (one squashed)
    assert page.get_by_text("No current output").count() == 0
    assert page.get_by_text("This build has no record of PostgreSQL and MariaDB").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "home-sqlite-only.png"), full_page=True)


@pytest.mark.parametrize("name", PAGES)
def test_screenshot(page, server, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    response = page.goto(server + PAGES[name])
    assert response is not None and response.ok
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# The colour scheme Material picks from the browser's preference (mkdocs.yml's palette media queries).
SCHEMES = {"light": "default", "dark": "slate"}
FAILING_IMPACTS = ("serious", "critical")


@pytest.mark.parametrize("preference", SCHEMES)
def test_no_serious_accessibility_violation(page, server, site, preference):
    """axe-core's rules (WCAG 2.1 A/AA and best practices) on every page of the site, in one scheme."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    urls = _page_urls(site)
    page.emulate_media(color_scheme=preference)
    found, counted = [], 0
    for url in urls:
        response = page.goto(server + url)
        assert response is not None and response.ok, url
        page.wait_for_load_state("networkidle")
        assert page.locator("body").get_attribute("data-md-color-scheme") == SCHEMES[preference], url
        violations = axe.run(page).response["violations"]
        counted += sum(len(v["nodes"]) for v in violations)
        found += [_describe(url or "/", v, node) for v in violations if v["impact"] in FAILING_IMPACTS
                  for node in v["nodes"]]
        if url == PAGES["circular-dependency"]:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"circular-dependency-{preference}.png"), full_page=True)
    print(f"\naxe-core {axe_version(page)}, {preference}: {len(urls)} pages, {len(found)} serious or critical "
          f"violations ({counted} elements with a violation of any impact)")
    assert not found, f"{len(found)} serious or critical accessibility violations ({preference}):\n" + "\n".join(found)


def _page_urls(site: Path) -> list[str]:
    """The address of every HTML page of the built site, relative to its root ("" for the home page)."""
    urls = []
    for html_file in sorted(site.rglob("*.html")):
        relative = html_file.relative_to(site).as_posix()
        urls.append(relative.removesuffix("index.html"))
    assert len(urls) > len(PAGES), urls
    return urls


def _describe(url: str, violation: dict, node: dict) -> str:
    """One violating element: page, rule, impact, target selector, and what axe says is wrong."""
    target = " ".join(str(t) for t in node["target"])
    summary = " ".join(node.get("failureSummary", "").split())
    return f"{url}: {violation['id']} ({violation['impact']}) {target}: {summary}"


def axe_version(page) -> str:
    return page.evaluate("axe.version")
