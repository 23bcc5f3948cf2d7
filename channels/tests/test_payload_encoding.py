"""A raw payload is encoded once per sync (orjson) for its hash and its stored text; the hash must stay what the
standard library's canonical JSON gives, or every stored order would look changed after an upgrade."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from channels.adapters.base import parse_json
from channels.services.upsert import encoded_payload, payload_hash
from channels.tests.fake_platform import load_jsonc


def canonical(raw) -> str:
    """The canonical text as the standard library writes it (the hash's definition)."""
    return json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


TRICKY = {
    "z": [1, -0, Decimal("9.90"), Decimal("1E+3"), None, True, False, 2**63 - 1, -(2**63)],
    "é": 'quote " backslash \\ newline \n tab \t control \x1f del \x7f',
    "😀": {"b": "买家 张三", "a": "\u2028\u2029 \ufeff", "": "empty key"},
    "A": [],
    "a": {},
}


@pytest.mark.parametrize("raw", [TRICKY, {"huge": 2**70, "n": [Decimal("0.01")]}, [], "text", 0])
def test_encoded_payload_is_the_standard_canonical_json(raw):
    encoded = encoded_payload(raw)
    assert encoded.text == canonical(raw)
    assert encoded.text_hash == hashlib.sha256(canonical(raw).encode()).hexdigest() == payload_hash(raw)
    assert encoded.value is raw


def test_every_published_sample_hashes_as_before(samples_dir):
    files = sorted((samples_dir / "platforms").glob("*.json*"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        raw = parse_json(text if path.suffix == ".json" else json.dumps(load_jsonc(path)), what=path.name)
        assert encoded_payload(raw).text == canonical(raw), path.name
