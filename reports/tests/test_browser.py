"""The report page and the dashboard snippet in a real browser: charts drawn from local static files only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from reports.tests.conftest import MARCH

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login_cookie(client, user) -> dict:
    """A session cookie for `user`, for the browser."""
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_report_charts_render_from_local_static(live_server, client, book, browser):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-tests")
    session = _login_cookie(client, user)
    host = urlparse(live_server.url).hostname
    query = "&".join(f"{k}={v}" for k, v in {**MARCH, "grain": "day"}.items())
    screenshots = Path(settings.BASE_DIR) / "var" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1800}, locale="en-US")
    try:
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "domain": host, "path": "/"}]
        )
        page = context.new_page()
        page.on(
            "request",
            lambda r: outside.append(r.url) if urlparse(r.url).hostname not in (host, None) else None,
        )
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for code, extra in (("sales", "&grain=day"), ("channels", ""), ("heatmap", ""), ("fulfilment", "")):
            page.goto(f"{live_server.url}/admin/reports/savedreport/run/{code}/?{query}{extra}")
            page.wait_for_selector(
                "canvas[data-report-chart][data-rendered='1']"
                if code != "heatmap"
                else "table.report-heatmap"
            )
            assert page.evaluate("typeof Chart") == "function"
            page.screenshot(path=str(screenshots / f"report_{code}.png"), full_page=True)
        rendered = page.evaluate("document.querySelectorAll('canvas[data-report-chart]').length")
        assert rendered >= 1
    finally:
        context.close()
    assert errors == []
    assert outside == [], f"requests left the server: {outside}"
