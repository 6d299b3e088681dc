"""User text made safe for Streamlit's Markdown-rendering elements (captions, messages, progress labels).

Instructions, responses, file names and error messages that quote them must show verbatim: no links, HTML,
LaTeX or emphasis a sample could smuggle in. Every Markdown-special character gets a backslash, and a newline
becomes a hard line break (Markdown would otherwise fold it into a space).
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def escape(text: object) -> str:
    """`text` escaped so that a Markdown-rendering element shows it verbatim."""
    return _SPECIAL.sub(r"\\\1", str(text)).replace("\n", "  \n")
