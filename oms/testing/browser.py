"""pytest plugin: one headless Debian Chromium per test session, driven by Playwright, and screenshots.

Loaded with `-p oms.testing.browser` (pyproject). Tests ask for `browser_page` (a fresh page, optionally
phone-sized) and `screenshot(page, name)` saves var/screenshots/<name>.png for CI artifacts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium for the whole session (skips, or fails in CI, when Chromium is missing)."""
    from conftest import CHROMIUM, _chromium_ready, require  # the project's root conftest

    require(_chromium_ready(), f"needs Chromium at {CHROMIUM} and the playwright package")
    chromium = CHROMIUM
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def browser_page(browser):
    """A new page factory: `browser_page(width, height)`; closed after the test."""
    contexts = []

    def open_page(width: int = 1366, height: int = 900, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under var/screenshots/ and return its path."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
