"""End-to-end fixtures: Debian's Chromium driven by Playwright, against pytest-django's live server on PostgreSQL.

Playwright's sync API runs an event loop in the test's thread, so Django's ORM (used by the tests to set data
up and to check what was stored) must be told that is safe here.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("ANNOTATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_frontend() -> None:
    index = Path(settings.FRONTEND_DIST) / "index.html"
    if not index.exists():
        pytest.fail(
            f"The browser app is not built ({index} is missing): run `make frontend` "
            "(npm ci && npm run build in frontend/) before the end-to-end tests; `make test` does it.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def browser(django_db_setup) -> Iterator:
    # Depends on the test database so it closes first: the browser's keep-alive connections hold live-server
    # threads, and with them database sessions that would stop the test database from being dropped.
    require_frontend()
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run scripts/ensure_browser.sh (apt-get install chromium).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
