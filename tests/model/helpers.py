"""Hand-made records for the model engine's tests (the tiny models themselves are fixtures in tests/conftest.py)."""

from __future__ import annotations

from curation.records import Message, Record, single_turn


def short_records() -> list[Record]:
    """Hand-made records: single- and multi-turn, a system prompt, whitespace the reference code trips on."""
    return [
        single_turn("Name a primary colour.", "Red."),
        single_turn("Translate to French", "Bonjour, le monde.", input_text="Hello, world."),
        single_turn("Repeat the word Paris.", "Paris"),
        single_turn("Say hi with spaces around it.", "  hi there  "),
        Record(messages=(Message("system", "Be brief."), Message("user", "What is 2+2?"), Message("assistant", "4"),
                         Message("user", "And times 3?"), Message("assistant", "12, since 4 x 3 = 12."))),
        single_turn("Write a long answer.", " ".join(["word"] * 40)),
    ]
