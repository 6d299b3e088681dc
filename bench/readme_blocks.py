"""Rewrite one marked block of bench/README.md in place, so each benchmark script owns its figures and nothing else.

A block is `<!-- TAG:NAME -->` ... `<!-- /TAG:NAME -->` inside the `## ...` section the script belongs to; the
section is created at the end of the file, and the block at the end of the section, when missing.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def write_block(section_title: str, tag: str, name: str, markdown: str, readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    if section_title not in text:
        text = text.rstrip("\n") + f"\n\n{section_title}\n"
    start = text.index(section_title)
    nxt = re.search(r"^## ", text[start + len(section_title):], flags=re.M)
    end = start + len(section_title) + nxt.start() if nxt else len(text)
    section = text[start:end]
    begin, finish = f"<!-- {tag}:{name} -->", f"<!-- /{tag}:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{finish}"
    if begin in section:
        section = re.sub(re.escape(begin) + r".*?" + re.escape(finish), lambda _: block, section, flags=re.S)
    else:
        section = section.rstrip("\n") + f"\n\n{block}\n"
    readme.write_text(text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[end:] if nxt else ""),
                      encoding="utf-8")
