"""Fixtures for the channels tests: the published samples directory and the local fake platform servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from channels.tests.fake_platform import FakePlatformServer
from channels.tests.fake_platform_handlers import BEHAVIOURS

#: ../shared/samples relative to the project root (the platforms' published payloads live outside the repo).
SAMPLES_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "samples"


def requires_samples() -> Path:
    """The samples directory, or a visible skip when it is missing (a failure when OMS_REQUIRE_ALL_TESTS=1)."""
    if (SAMPLES_DIR / "platforms").is_dir():
        return SAMPLES_DIR
    reason = f"published platform samples not found at {SAMPLES_DIR} (expected ../shared/samples)"
    if os.environ.get("OMS_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"{reason}; OMS_REQUIRE_ALL_TESTS=1 forbids skipping")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Path of ../shared/samples; skips (or fails under OMS_REQUIRE_ALL_TESTS=1) when absent."""
    return requires_samples()


@pytest.fixture
def fake_platform(samples_dir: Path) -> Iterator[Callable[[str], FakePlatformServer]]:
    """Factory: `fake_platform("taobao")` starts that platform's fake server on 127.0.0.1 (stopped
    afterwards).
    """
    servers: list[FakePlatformServer] = []

    def start(platform: str) -> FakePlatformServer:
        server = FakePlatformServer(BEHAVIOURS[platform](samples_dir))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class RecordingSleep:
    """A stand-in for time.sleep that records the requested delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    """A recording fake `sleep` to pass to adapters, so backoff is asserted without waiting."""
    return RecordingSleep()
