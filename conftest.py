"""Shared test infrastructure for every OMS app: optional-service checks, sample material, inline tasks.

Tests that need something the machine may lack (PostgreSQL, Redis, Chromium, ../shared/samples) call
`require()` or use a marker/fixture below: they skip with a visible reason on a laptop and fail in CI,
where OMS_REQUIRE_ALL_TESTS=1 says everything must be there.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("OMS_REQUIRE_ALL_TESTS") == "1"
"""In CI every optional service is required: a missing one fails the test instead of skipping it."""

POSTGRES_REASON = "needs PostgreSQL (set DATABASE_URL=postgres://...)"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CHROMIUM = Path("/usr/bin/chromium")


def require(condition: bool, reason: str) -> None:
    """Skip the current test with `reason` unless `condition` holds; in CI (REQUIRE_ALL) fail instead."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail("required in CI: " + reason)
    pytest.skip(reason)


POSTGRES_PASS_FOLLOWS = os.environ.get("OMS_POSTGRES_PASS_FOLLOWS") == "1"
"""Set by .ci/run on its SQLite pass: PostgreSQL-only tests run in the PostgreSQL pass that follows."""


def require_postgresql(reason: str = POSTGRES_REASON) -> None:
    """Skip (or fail in CI) unless the database is PostgreSQL; on CI's SQLite pass, defer to its PostgreSQL pass."""
    if not is_postgresql() and POSTGRES_PASS_FOLLOWS:
        pytest.skip("runs in CI's PostgreSQL pass")
    require(is_postgresql(), reason)


def is_postgresql() -> bool:
    """Whether the default database is PostgreSQL."""
    from django.db import connection

    return connection.vendor == "postgresql"


def redis_reachable(host: str = REDIS_HOST, port: int = REDIS_PORT, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on the Redis port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def samples_path() -> Path:
    """Where the shared sample material lives: ../shared/samples next to the project root."""
    from django.conf import settings

    return Path(settings.BASE_DIR).parent / "shared" / "samples"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker alias and make django-q2 run tasks inline (sync) for the whole test session."""
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (alias of 'postgres')")
    # pytest-django has already loaded the settings (its early hook runs before conftests), so the
    # OMS_Q_SYNC variable is too late for oms/settings.py: set the flag on the live settings and on
    # django_q's Conf, which async_task reads at call time. The variable still reaches subprocesses.
    os.environ["OMS_Q_SYNC"] = "1"
    from django.conf import settings

    settings.Q_CLUSTER["sync"] = True
    # Tests assert English messages; tests of the Chinese UI activate zh-hans themselves.
    settings.LANGUAGE_CODE = "en"
    from django_q.conf import Conf

    Conf.SYNC = True


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Check the optional services a test's markers ask for before it runs."""
    if item.get_closest_marker("postgres") or item.get_closest_marker("postgres_only"):
        require_postgresql()
    if item.get_closest_marker("redis"):
        require(redis_reachable(), f"needs Redis on {REDIS_HOST}:{REDIS_PORT}")
    if item.get_closest_marker("browser"):
        require(chromium_ready(), f"needs Chromium at {CHROMIUM} and the playwright package")
    if item.get_closest_marker("samples"):
        require(samples_path().is_dir(), f"needs the shared sample material in {samples_path()}")


def chromium_ready() -> bool:
    """Whether the system Chromium and the playwright package are both present."""
    return CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None


_chromium_ready = chromium_ready  # the name oms/testing/browser.py imports


@pytest.fixture
def postgres_only() -> None:
    """Use in a test that only means something on PostgreSQL (row locks, concurrency)."""
    require_postgresql()


@pytest.fixture
def samples_dir() -> Path:
    """Path to ../shared/samples (real platform payloads and order sheets); required."""
    path = samples_path()
    require(path.is_dir(), f"needs the shared sample material in {path}")
    return path


@pytest.fixture
def redis_url() -> str:
    """URL of a reachable Redis on 127.0.0.1:6379."""
    require(redis_reachable(), f"needs Redis on {REDIS_HOST}:{REDIS_PORT}")
    return os.environ.get("REDIS_URL") or f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def chromium_path() -> Path:
    """Path to the system Chromium for playwright browser tests."""
    require(chromium_ready(), f"needs Chromium at {CHROMIUM} and the playwright package")
    return CHROMIUM
