"""docs/methods.md says what the code does: the text learning percentage's clusters embed, static_ifd's prompts."""

from __future__ import annotations

import typing

from curation.geometry.embed import sample_text
from curation.methods import baselines
from curation.records import single_turn
from tests.shared_data import ROOT


def _doc() -> str:
    return " ".join((ROOT / "docs" / "methods.md").read_text(encoding="utf-8").split())


def test_cluster_text_is_documented_as_record_text():
    record = single_turn("Summarise this.", "  A summary. ", input_text="Some text.", system="Be brief.")
    # what the reference embedder (and with it pool_clusters) embeds: every message, newline-joined
    assert sample_text(record, "text") == "Be brief.\nSummarise this.\n\nSome text.\n  A summary. "
    doc = _doc()
    section = doc[doc.index("## Learning percentage"):doc.index("## Baselines")]
    assert "`Record.text()`" in section and '"Instruction: "' in section and '" Response: "' in section


def test_static_ifd_prompts_are_documented():
    hints = typing.get_type_hints(baselines.StaticIFDConfig, include_extras=False)
    choices = typing.get_args(hints["prompt"])
    assert choices == ("superfiltering", "chat_template")
    doc = _doc()
    section = doc[doc.index("## Baselines"):]
    assert all(f"`{c}`" in section for c in choices)
    assert "**Superfiltering**" in section and "**Cherry LLM**" in section
