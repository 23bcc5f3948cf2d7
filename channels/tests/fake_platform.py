"""A local fake of each sales platform's order API: real HTTP on 127.0.0.1, for the adapter tests.

`FakePlatformServer(behaviour)` runs a `ThreadingHTTPServer` on a free port in a thread. The behaviour (one
per platform, in `fake_platform_handlers.py`) serves an order store built from the platforms' published sample
payloads plus generated orders, checks each request's signature the way the platform documents (answering with
the platform's own error format when it does not match), filters by the modified-time window, refuses windows
longer than the platform allows, and pages. Faults can be queued for the next requests: N×429 with
Retry-After, N×5xx, a throttle answer in the platform's JSON envelope, a non-JSON page, or a page missing a
key.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from channels.adapters.base import Credentials

APP_KEY = "test-app-key"
APP_SECRET = "test-app-secret"
ACCESS_TOKEN = "test-access-token"


@dataclass
class FakeRequest:
    """One request as the fake saw it: path without query, single-valued query and form, lower-case headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""
    form: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"{}")

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters merged (TOP-style routers accept both)."""
        return {**self.query, **self.form}


@dataclass
class FakeResponse:
    """What the fake answers: a JSON-able body (or raw bytes), status and headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """A queued misbehaviour for one upcoming request."""

    kind: str  # "429", "5xx", "throttle", "non_json", "missing_key"
    status: int = 0
    retry_after: str | None = None


class FakeBehaviour:
    """Base of the per-platform fakes: an order store plus the platform's request handling."""

    platform = ""

    def __init__(self, samples_dir: Path | None) -> None:
        self.samples_dir = samples_dir
        self.orders: list[dict] = []
        self.windows: list[tuple[Any, Any]] = []
        self.shipments: list[dict] = []
        self.server: FakePlatformServer | None = None
        self.load_samples()

    # to override
    # ---------------------------------------------------------------------------------------------
    def load_samples(self) -> None:
        """Put the platform's published sample orders in the store."""

    def make_order(self, index: int, updated: Any) -> dict:
        """A generated order (a copy of a sample with a new id and modified time) for paging tests."""
        raise NotImplementedError

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request."""
        raise NotImplementedError

    def throttle_response(self) -> FakeResponse:
        """The platform's in-body throttling answer (default: HTTP 429)."""
        return FakeResponse({"error": "throttled"}, status=429)

    def break_response(self, body: Any) -> Any:
        """Remove a key the adapter relies on from a normal answer."""
        raise NotImplementedError

    # helpers
    # -------------------------------------------------------------------------------------------------
    def add_orders(self, count: int, first_updated: Any, step: Any) -> list[dict]:
        """Generate `count` orders whose modified times start at `first_updated`, `step` apart."""
        made = [self.make_order(i, first_updated + step * i) for i in range(count)]
        self.orders.extend(made)
        return made

    def credentials(self, **overrides: Any) -> Credentials:
        """Credentials the fake accepts (override e.g. app_secret to be refused)."""
        values: dict[str, Any] = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": ACCESS_TOKEN}
        values.update(overrides)
        return Credentials(**values)

    def base_url(self, server_url: str) -> str:
        """The adapter base_url pointing at this fake."""
        return server_url

    def sample(self, name: str) -> Any:
        """A published sample payload (plain JSON floats; the fake re-serialises it)."""
        assert self.samples_dir is not None
        return json.loads((self.samples_dir / "platforms" / name).read_text(encoding="utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        form: dict[str, str] = {}
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        request = FakeRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            raw_path=self.path,
            form=form,
        )
        response = self.server.fake.dispatch(request)
        if isinstance(response.body, bytes):
            payload = response.body
        else:
            payload = json.dumps(response.body, ensure_ascii=False).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePlatformServer


class FakePlatformServer:
    """Runs one platform behaviour on 127.0.0.1:<free port> until `stop()`."""

    def __init__(self, behaviour: FakeBehaviour) -> None:
        self.behaviour = behaviour
        behaviour.server = self
        self.requests: list[FakeRequest] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{behaviour.platform}",
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """The base_url an adapter should use for this fake."""
        return self.behaviour.base_url(self.url)

    def adapter(self, adapter_class: type, *, credentials: Credentials | None = None, **kwargs: Any) -> Any:
        """An adapter of `adapter_class` wired to this fake (accepted credentials unless given)."""
        return adapter_class(credentials or self.behaviour.credentials(), self.base_url, **kwargs)

    # fault injection
    # -----------------------------------------------------------------------------------------
    def inject(self, kind: str, times: int = 1, *, status: int = 503, retry_after: str | None = None) -> None:
        """Queue `times` faults of `kind` for the next requests."""
        with self._lock:
            self.faults.extend(Fault(kind, status=status, retry_after=retry_after) for _ in range(times))

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        """Record the request, apply the next queued fault if any, else let the behaviour answer."""
        with self._lock:
            self.requests.append(request)
            fault = self.faults.pop(0) if self.faults else None
        if fault is None:
            return self.behaviour.handle(request)
        if fault.kind == "429":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return FakeResponse({"errors": "Exceeded 2 calls per second for api client."}, 429, headers)
        if fault.kind == "5xx":
            return FakeResponse(b"<html><body>upstream error</body></html>", fault.status)
        if fault.kind == "throttle":
            return self.behaviour.throttle_response()
        if fault.kind == "non_json":
            return FakeResponse(b"<html>gateway hiccup</html>", 200)
        if fault.kind == "missing_key":
            normal = self.behaviour.handle(request)
            return FakeResponse(self.behaviour.break_response(copy.deepcopy(normal.body)), normal.status)
        raise ValueError(f"unknown fault {fault.kind}")


def load_jsonc(path: Path) -> Any:
    """Load JSON with // comments (the Douyin sample); comments inside strings (URLs) are kept."""
    source = path.read_text(encoding="utf-8")
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(source):
        char = source[i]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif source.startswith("//", i):
            while i < len(source) and source[i] != "\n":
                i += 1
            continue
        else:
            out.append(char)
        i += 1
    return json.loads("".join(out), strict=False)


BehaviourFactory = Callable[[Path | None], FakeBehaviour]
