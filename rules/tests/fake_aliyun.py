"""A local stand-in for Aliyun's dysmsapi endpoint that checks requests the way Aliyun documents them.

It re-computes the RPC signature independently (sorted, RFC 3986-encoded query; "GET&%2F&" + encoded query;
HMAC-SHA1 with AccessKeySecret + "&"; base64) and refuses a wrong one with Code SignatureDoesNotMatch,
like the real service. Accepted messages are kept in `messages`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

ACCESS_KEY_ID = "LTAI-test-id"
ACCESS_KEY_SECRET = "test-secret/+="
REQUIRED = (
    "AccessKeyId", "Action", "Format", "PhoneNumbers", "RegionId", "SignName", "Signature", "SignatureMethod",
    "SignatureNonce", "SignatureVersion", "TemplateCode", "TemplateParam", "Timestamp", "Version",
)  # fmt: skip


def _encode(text: str) -> str:
    return quote(text, safe="~").replace("%7E", "~")


def expected_signature(params: dict[str, str], secret: str = ACCESS_KEY_SECRET) -> str:
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "Signature")
    to_sign = "GET&" + _encode("/") + "&" + _encode(query)
    return base64.b64encode(
        hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    ).decode()


class FakeAliyun:
    """Run with `with FakeAliyun() as server:`; `server.url` is the endpoint, `fail_next` forces errors."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.nonces: set[str] = set()
        self.fail_next: list[tuple[int, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                status, body = fake.handle(dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def handle(self, params: dict[str, str]) -> tuple[int, dict]:
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            return 400, {"Code": "MissingParameter", "Message": f"missing {', '.join(missing)}"}
        if params["AccessKeyId"] != ACCESS_KEY_ID:
            return 404, {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
            }
        if params["Signature"] != expected_signature(params):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if params["SignatureNonce"] in self.nonces:
            return 400, {
                "Code": "SignatureNonceUsed",
                "Message": "Specified signature nonce was used already.",
            }
        self.nonces.add(params["SignatureNonce"])
        checks = {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
        }
        for name, value in checks.items():
            if params[name] != value:
                return 400, {"Code": "InvalidParameter", "Message": f"{name} must be {value}"}
        if not params["Timestamp"].endswith("Z") or "T" not in params["Timestamp"]:
            return 400, {"Code": "InvalidTimeStamp.Format", "Message": "Specified time stamp is not valid."}
        json.loads(params["TemplateParam"])
        if self.fail_next:
            return self.fail_next.pop(0)
        self.messages.append(params)
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.messages)}", "RequestId": "req"}

    def __enter__(self) -> FakeAliyun:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
