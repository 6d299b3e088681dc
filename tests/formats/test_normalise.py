"""The exact-duplicate form of a text (`records.normalise`) and the content ids built on it must never change:
a workspace's sample ids are these hashes. Checked against the regex definition over every code point."""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import unicodedata

from curation.records import Message, content_id, normalise

REFERENCE = re.compile(r"\s+")


def reference(text: str) -> str:
    return REFERENCE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def test_every_code_point_alone_and_between_letters():
    for c in range(sys.maxunicode + 1):
        if 0xD800 <= c <= 0xDFFF:
            continue  # lone surrogates cannot be in decoded text
        ch = chr(c)
        for text in (ch, f"a{ch}{ch}b", f"{ch}x{ch}"):
            assert normalise(text) == reference(text), hex(c)


def test_random_texts_and_a_known_id():
    rng = random.Random(0)
    alphabet = ["a", "é", "e\u0301", " ", "\t", "\n", "\u00a0", "\u2028", "\x1c", "\u3000", "z", "\r\n"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert normalise(text) == reference(text)
    messages = [Message("user", "  Hello\u00a0 world \n"), Message("assistant", "Hi\t\tthere")]
    payload = json.dumps([["user", "Hello world"], ["assistant", "Hi there"]], ensure_ascii=False)
    assert content_id(messages) == hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
