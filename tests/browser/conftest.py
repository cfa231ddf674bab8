"""
The portal in a real browser: Debian's Chromium driven by Playwright against
pytest-django's live server.

These tests are marked `browser` and left out of the normal run; `make
test-browser` runs them. Screenshots of every page state go to
var/browser-artefacts/, for a person to look through.
"""

import os
import re
import shutil

import pytest
from django.test.utils import override_settings

from .accessibility import ARTEFACTS, Checker

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium as a test runner needs it here: no sandbox (root in a container),
# no GPU, and nothing fetched behind the tests' backs.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def _sync_calls_beside_playwright():
    # Playwright's sync API keeps an event loop in the main thread; Django
    # would take the tests' own ORM calls for calls from async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def _plain_http_while_starting():
    # The live server speaks plain HTTP. SecurityMiddleware reads
    # SECURE_SSL_REDIRECT once, when the server builds its handler, so it is
    # off only while the server starts; every other test keeps production's.
    override = override_settings(SECURE_SSL_REDIRECT=False)
    override.enable()
    yield override


@pytest.fixture(scope="session")
def live_server(_plain_http_while_starting, live_server):
    _plain_http_while_starting.disable()
    return live_server


@pytest.fixture(autouse=True)
def _portal_settings(settings):
    # Cookies marked Secure would not be sent back over plain HTTP.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # A person at the keyboard is quick, but not a bot.
    settings.QIPP_MIN_FILL_SECONDS = 0


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not at {CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM.")
    # Each run's screenshots and axe results replace the last run's.
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_browser(browser, live_server, request):
    """Open a fresh browser context on the portal: `open_browser(javascript=False)`."""
    contexts = []

    def open_context(*, javascript: bool = True, **options):
        context = browser.new_context(
            base_url=live_server.url,
            # Our nonce CSP would block the axe script the checks inject.
            bypass_csp=True,
            java_script_enabled=javascript,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(10_000)
        # Nothing leaves the machine: the NHS font CDN and the like fall back.
        context.route(re.compile(r"^(?!" + re.escape(live_server.url) + r"|data:)"), lambda route: route.abort())
        contexts.append(context)
        return context.new_page()

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_browser):
    return open_browser()


@pytest.fixture
def check(request):
    """Screenshots and accessibility checks for one test, its artefacts in a folder of their own."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    return Checker(ARTEFACTS / request.module.__name__.rsplit(".", 1)[-1] / name)


def pytest_terminal_summary(terminalreporter):
    summary = Checker.summary()
    if summary:
        terminalreporter.write_sep("-", "accessibility")
        for line in summary:
            terminalreporter.write_line(line)
