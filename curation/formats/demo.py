"""Default pools for an empty workspace: Dolly from the hub when it is reachable, else a generated demo pool.

The demo pool is generated here, deterministically and offline: a few hundred instruction/response pairs over
eleven topics (from curation.formats.demo_content), plus planted problems so that every page of the app has something
to show: paraphrased near-duplicates, exact duplicates (some differing only in whitespace), noisy samples
(near-empty, garbled, wrong-language, truncated, repetitive, empty) and a few malformed lines for the import's
error report. Each row carries `category` and `demo` (what was planted) so the plants can be found again.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from curation.formats import demo_content as C
from curation.workspace.arrays import atomic_write_text
from curation.workspace.db import Workspace

if TYPE_CHECKING:
    from curation.formats.importer import ImportReport

HUB_DATASET = "databricks/databricks-dolly-15k"
DEMO_FILE = "demo-pool.jsonl"  # inside <workspace>/demo/: its path names the samples' source
NOISE_KINDS = ("near_empty", "garbled", "wrong_language", "truncated", "repetitive", "empty")
MALFORMED_LINES = ('{"instruction": "This line was cut off", "output": "and never clo',
                   '{"instruction": "A row without any response"}',
                   '["an array", "is not a row"]')


@dataclass(frozen=True)
class DemoSpec:
    seed: int = 0
    paraphrases: int = 40        # near-duplicates: reworded instruction, lightly changed answer
    exact_duplicates: int = 15   # repeats of clean rows (every third differs only in whitespace)
    noisy_per_kind: int = 6      # per kind of NOISE_KINDS
    malformed: int = 3           # lines the importer cannot read (at most len(MALFORMED_LINES))


def clean_rows() -> list[dict[str, str]]:
    """Every clean row the templates give, in a fixed order (about 300)."""
    rows: list[dict[str, str]] = []

    def add(category: str, instruction: str, output: str, input_text: str = "") -> None:
        rows.append({"instruction": instruction, "input": input_text, "output": output, "category": category})

    for name, (capital, continent, languages, fact) in C.COUNTRIES.items():
        add("geography", f"What is the capital of {name}?", f"The capital of {name} is {capital}.")
        add("geography", f"Which languages are spoken in {name}?",
            f"The main languages of {name} are {languages}.")
        add("geography", f"Describe {name} in two sentences.",
            f"{name} is a country in {continent} whose capital is {capital}. {fact}")
    for dish, (ingredients, method) in C.DISHES.items():
        add("cooking", f"What are the main ingredients of {dish}?", f"For {dish} you need {ingredients}.")
        add("cooking", f"How do I make {dish}?", method)
    for task, code in C.PYTHON_TASKS.items():
        add("programming", f"Write a Python function that {task}.", f"```python\n{code}\n```")
    for name, what in C.BUILTINS.items():
        add("programming", f"What does Python's built-in {name}() do?", f"`{name}()` {what}.")
    rng = random.Random(1234)
    for _ in range(15):
        a, b = rng.randint(12, 99), rng.randint(12, 99)
        add("arithmetic", f"What is {a} times {b}?", f"{a} times {b} is {a * b}.")
    for celsius in range(-10, 41, 5):
        add("arithmetic", f"Convert {celsius} degrees Celsius to Fahrenheit.",
            f"{celsius} degrees Celsius is {celsius * 9 / 5 + 32:g} degrees Fahrenheit (F = C x 9/5 + 32).")
    for _ in range(10):
        pct, base = rng.choice([5, 10, 15, 20, 25, 40]), rng.randrange(40, 1000, 20)
        add("arithmetic", f"What is {pct}% of {base}?", f"{pct}% of {base} is {pct * base / 100:g}.")
    for concept, text in C.SCIENCE.items():
        add("science", f"Explain {concept} to a ten-year-old.", text)
        add("science", f"Give a one-sentence definition of {concept}.",
            f"{concept[0].upper()}{concept[1:]}. {text}")
    for event, (year, text) in C.HISTORY.items():
        add("history", f"When did {event} happen?",
            f"{event[0].upper()}{event[1:]} happened in {year}. {text}")
        add("history", "Summarise the following text in one sentence.",
            f"{text.rstrip('.')} ({year}).",
            input_text=f"Historians often point to {event} as a turning point. {text} It happened in {year},"
                       " and its consequences were felt for decades in politics, trade and culture.")
    for exercise, (muscles, how) in C.EXERCISES.items():
        add("fitness", f"Which muscles does the {exercise} work?", f"The {exercise} mainly works {muscles}.")
        add("fitness", f"How do I do a {exercise} with good form?", how)
    for i, subject in enumerate(C.HAIKU_SUBJECTS):
        first, second, third = (lines[(i + k) % len(lines)] for k, lines in enumerate(C.HAIKU_LINES))
        add("writing", f"Write a haiku about {subject}.", f"{first.format(s=subject)},\n{second},\n{third}.")
    for person, thing in C.THANKS:
        add("writing", f"Write a short thank-you note to {person} for {thing}.",
            f"Dear {person}, thank you so much for {thing}. It meant a great deal to me. With gratitude.")
    for i in range(15):
        items = rng.sample(C.FRUITS, 2) + rng.sample(C.VEGETABLES, 2)
        rng.shuffle(items)
        answer = "; ".join(f"{x}: {'fruit' if x in C.FRUITS else 'vegetable'}" for x in items)
        add("classification", f"Classify each as a fruit or a vegetable: {', '.join(items)}.", answer + ".")
        animals = rng.sample(sorted(C.ANIMALS), 3)
        if i < 10:
            add("classification", f"Is each of these a mammal, a bird or a fish: {', '.join(animals)}?",
                "; ".join(f"{a}: {C.ANIMALS[a]}" for a in animals) + ".")
    for activity, ideas in C.IDEAS.items():
        add("brainstorming", f"Give me three ideas for {activity}.",
            "\n".join(f"{k}. {idea[0].upper()}{idea[1:]}." for k, idea in enumerate(ideas, 1)))
    return rows


def generate(spec: DemoSpec = DemoSpec()) -> list[str]:
    """The demo pool as JSONL lines (deterministic for a given spec)."""
    rng = random.Random(spec.seed)
    clean = [{**r, "demo": "clean"} for r in clean_rows()]
    planted: list[dict[str, str]] = []
    for r in rng.sample(clean, spec.paraphrases):
        planted.append({**r, "demo": "paraphrase", "instruction": _paraphrase(r["instruction"], rng),
                        "output": rng.choice(C.ANSWER_PREFIXES) + r["output"]})
    for k, r in enumerate(rng.sample(clean, spec.exact_duplicates)):
        output = r["output"].replace(" ", "  ", 1) + "\n" if k % 3 == 0 else r["output"]
        planted.append({**r, "demo": "exact_duplicate", "output": output})
    for kind in NOISE_KINDS:
        for r in rng.sample(clean, spec.noisy_per_kind):
            planted.append({**r, "demo": f"noisy:{kind}", "output": _noise(kind, r["output"], rng)})
    rows = clean + planted
    rng.shuffle(rows)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    for k, bad in enumerate(MALFORMED_LINES[:spec.malformed]):  # spread through the file
        lines.insert((k + 1) * len(lines) // (spec.malformed + 1), bad)
    return lines


def _paraphrase(instruction: str, rng: random.Random) -> str:
    text = instruction.replace("What is", "What's").replace("How do I", "How can I")
    text = text.replace("Write", "Please write")
    if text == instruction:
        text = rng.choice(C.PARAPHRASE_PREFIXES) + instruction[0].lower() + instruction[1:]
    return text


def _noise(kind: str, output: str, rng: random.Random) -> str:
    if kind == "near_empty":
        return rng.choice(C.NEAR_EMPTY)
    if kind == "garbled":
        alphabet = "qwrtzpsdfghjklxvbnm#@%&*~"
        return " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))) for _ in range(12))
    if kind == "wrong_language":
        return rng.choice(C.WRONG_LANGUAGE)
    if kind == "truncated":
        cut = max(8, int(len(output) * 0.45))
        return output[:cut].rstrip(" .,;")
    if kind == "repetitive":
        return " ".join([output.split(".")[0].strip()] * 12)
    if kind == "empty":
        return "   "  # the importer skips it (empty_response): it shows up in the error report
    raise ValueError(f"unknown noise kind {kind!r}")


@dataclass(frozen=True)
class DemoPool:
    path: Path
    rows: int                    # JSON rows written (malformed lines excluded)
    by_kind: dict[str, int]      # rows per `demo` tag
    malformed: int


def write_demo_pool(path: str | os.PathLike[str], spec: DemoSpec = DemoSpec()) -> DemoPool:
    """Write the demo pool as a JSONL file (atomically)."""
    lines = generate(spec)
    atomic_write_text(path, "\n".join(lines) + "\n")
    kinds: Counter[str] = Counter()
    for line in lines:
        try:
            kinds[json.loads(line)["demo"]] += 1
        except (ValueError, KeyError, TypeError):
            continue
    malformed = min(spec.malformed, len(MALFORMED_LINES))
    return DemoPool(Path(path), sum(kinds.values()), dict(kinds), malformed)


def demo_path(ws: Workspace) -> Path:
    return ws.path("demo", DEMO_FILE)


def import_demo(ws: Workspace, spec: DemoSpec = DemoSpec(), *,
                progress: Callable[[int, int, str], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> ImportReport:
    """Write the demo pool into the workspace and import it (in this process); returns the ImportReport."""
    from curation.formats import importer

    pool = write_demo_pool(demo_path(ws), spec)
    return importer.import_source(ws, pool.path, schema="alpaca", progress=progress, should_stop=should_stop)


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face hub can be used now: not in offline mode and its host answers on port 443."""
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("HF_DATASETS_OFFLINE", ""))
    if any(flag.strip().lower() in ("1", "true", "yes", "on") for flag in flags):
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy only the hub client itself can tell
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
