"""How long will a selection run take? An estimate shown before a run starts, from the pool's size and lengths.

Model work (scoring passes, training rounds) is priced by `curation.model.estimate.estimate_seconds`; what
each method does per iteration follows docs/methods.md ("Time on a CPU"). With `Rates` measured on this machine
(`curation.model.calibration`) the throughputs are this machine's and the fixed costs that dominate small runs
are priced too (the process start, each model load, each training call's set-up, the embedder's load); without
them the constants measured on one CPU are the fallback, and the estimate says "not calibrated yet".
Tokens per sample come from characters (per token and template tokens as calibrated, else about 4 and 12) so that
no tokenizer is loaded for an estimate. Sentence-embedding the pool (every run's Vendi metric needs it, K-Center
and the cluster methods select with it) is priced separately and only when the pool is not embedded yet.
Scores are cached per model weights, so a second run on the same base model costs less than estimated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from curation.methods.budgets import Budget, sample_count
from curation.records import Record, record_from_json
from curation.workspace.db import Workspace

if TYPE_CHECKING:
    from curation.model.calibration import CalibrationKey, Rates

CHARS_PER_TOKEN = 4.0
TEMPLATE_TOKENS = 12  # chat-template tokens around a single-turn sample
EMBED_TEXTS_PER_S = 100.0  # all-MiniLM-L6-v2 on 2 shared cores: 14,989 Dolly conversations in 137 s (bench/README.md)
FAKE_ROWS_PER_S = 1e6  # the fake engine: seeded numpy per pool row, no model and no embedder (tests, dry runs)
NOT_CALIBRATED = "not calibrated yet"
ROLE = {"diverse_evol": "target", "iterit": "target", "learning_pct": "selector"}  # else "scorer"


@dataclass(frozen=True)
class RunEstimate:
    seconds: float
    parts: list[tuple[str, float]] = field(default_factory=list)  # (what, seconds), largest first
    calibrated: bool = False  # priced with rates measured on this machine, or needing none (the fake engine)

    def describe(self) -> str:
        if self.seconds < 90:
            return f"about {max(1, round(self.seconds))} s"
        return f"about {round(self.seconds / 60)} min" if self.seconds < 5400 else f"about {self.seconds / 3600:.1f} h"


def mean_tokens(prompt_chars: float, response_chars: float, max_length: int, *,
                chars_per_token: float = CHARS_PER_TOKEN,
                template_tokens: float = TEMPLATE_TOKENS) -> tuple[float, float]:
    """(tokens per sample, response tokens per sample), capped at the method's max length."""
    total = min(float(max_length), (prompt_chars + response_chars) / chars_per_token + template_tokens)
    response = min(total, response_chars / chars_per_token + 1)
    return total, response


def pool_tokens(prompt_chars: np.ndarray, response_chars: np.ndarray, max_length: int, *, chars_per_token: float,
                template_tokens: float) -> tuple[float, float, float, float]:
    """From every sample's lengths: (tokens per pool sample in a pass over all of them (DiverseEvol's
    embedding), tokens per pool sample scored or trained, response tokens per pool sample scored, the share of
    samples that fit). Capping per sample matters (a mean of capped lengths is below the cap of the mean), and
    a sample whose prompt fills max_length is neither scored nor trained on (no response token fits)."""
    prompt = np.asarray(prompt_chars, np.float64) / chars_per_token + template_tokens
    total = np.minimum(float(max_length), prompt + np.asarray(response_chars, np.float64) / chars_per_token)
    response = np.maximum(total - prompt, 0.0)  # the response's head that fits
    fits = prompt < max_length - 1
    if not len(total):
        return 0.0, 0.0, 0.0, 1.0
    return (float(total.mean()), float(np.where(fits, total, 0).mean()), float(np.where(fits, response, 0).mean()),
            float(fits.mean()))


def model_loads(method: str, config: Any, n_select: int) -> int:
    """How many times a run loads a model (the base model or a checkpoint), from the method's structure."""
    if method == "diverse_evol":
        from curation.methods.diverse_evol import pool_sizes

        rounds = len(pool_sizes(config, max(1, n_select))) - 1
        return 2 * rounds + int(config.train_final_round)  # each round: M_{t-1} to embed, the base to retrain
    if method == "iterit":
        return int(config.epochs)  # the base model, then the previous epoch's checkpoint each epoch
    if method == "learning_pct":
        return 0 if config.trajectories_file else 1
    if method in ("perplexity", "static_ifd") or (method == "deita" and config.score != "response_length"):
        return 1
    return 0


def estimate_run(method: str, config: Any, *, n_pool: int, n_select: int, prompt_chars: float,
                 response_chars: float, embedded: bool, device: str = "cpu", engine: str = "model",
                 rates: Rates | None = None,
                 lengths: tuple[np.ndarray, np.ndarray] | None = None) -> RunEstimate:
    """Seconds a run of `method` with `config` should take over a pool of `n_pool` samples selecting `n_select`.

    `prompt_chars` / `response_chars` are the pool's mean lengths; `embedded` says whether the pool's
    reference sentence embeddings are cached already; `rates` (from `curation.model.calibration`) are this
    machine's, None = the fallback constants; `lengths` (every sample's prompt and response characters) refine
    a calibrated estimate (`pool_tokens`). `engine="fake"` (the run's `models["engine"]`) runs no model and
    no embedder: a pass over the pool costs microseconds per row, whatever the method.
    """
    if engine == "fake":
        return RunEstimate(seconds=n_pool / FAKE_ROWS_PER_S, parts=[("the fake engine", n_pool / FAKE_ROWS_PER_S)],
                           calibrated=True)
    max_length = int(getattr(config, "max_length", 512))
    share = 1.0  # of samples that fit max_length: picks (IterIT's window and training) are among those
    if rates is None:
        tokens, response = mean_tokens(prompt_chars, response_chars, max_length)
        passed = tokens
    elif lengths is None:
        tokens, response = mean_tokens(prompt_chars, response_chars, max_length, chars_per_token=rates.chars_per_token,
                                       template_tokens=rates.template_tokens)
        passed = tokens
    else:
        passed, tokens, response, share = pool_tokens(*lengths, max_length, chars_per_token=rates.chars_per_token,
                                                      template_tokens=rates.template_tokens)

    estimate_seconds = _estimate_seconds()
    score_rate = rates.score_tokens_per_s if rates is not None else None
    train_rate = rates.train_tokens_per_s if rates is not None else None
    setup = rates.train_setup_s if rates is not None else 0.0

    def score(n: float, ifd: bool, picked: bool = False) -> float:  # picked: samples that fit, not pool rows
        f = 1 / share if picked and share > 0 else 1.0
        return estimate_seconds(int(n), tokens * f, task="score", ifd=ifd, mean_response_tokens=response * f,
                                device=device, tokens_per_second=score_rate)

    def pass_all(n: float) -> float:  # DiverseEvol's pass with the trained model: every sample, truncated or not
        return estimate_seconds(int(n), passed, task="score", ifd=False, device=device, tokens_per_second=score_rate)

    def train(n: float, epochs: int, picked: bool = False) -> float:
        f = 1 / share if picked and share > 0 else 1.0
        return setup + estimate_seconds(int(n), tokens * f, task="train", epochs=epochs, device=device,
                                        tokens_per_second=train_rate)

    parts: list[tuple[str, float]] = []
    if not embedded:
        embed = (n_pool / EMBED_TEXTS_PER_S if rates is None
                 else rates.embedder_load_s + n_pool / rates.embed_texts_per_s)
        parts.append(("sentence-embedding the pool (once; cached)", embed))
    loads = model_loads(method, config, n_select)
    if rates is not None and loads:
        parts.append((f"starting and {loads} model load(s)",
                      rates.start_s + rates.warmup_s + rates.first_load_s + (loads - 1) * rates.load_s))
    if method == "diverse_evol":
        from curation.methods.diverse_evol import pool_sizes

        sizes = pool_sizes(config, max(1, n_select))
        trained = sizes if config.train_final_round else sizes[:-1]
        parts.append((f"{len(trained)} training rounds ({config.epochs} epochs each)",
                      sum(train(s, config.epochs) for s in trained)))
        parts.append((f"{len(sizes) - 1} passes embedding the pool with the trained model",
                      (len(sizes) - 1) * pass_all(n_pool)))
    elif method == "iterit":
        window = n_pool if config.update_ratio <= 1 else min(n_pool, config.update_ratio * n_select)
        parts.append(("IFD of the whole pool (epoch 0)", score(n_pool, ifd=True)))
        if config.epochs > 1:
            parts.append((f"IFD of the top {int(window):,} in {config.epochs - 1} later epochs",
                          (config.epochs - 1) * score(window, ifd=True, picked=True)))
        parts.append((f"{config.epochs} one-epoch trainings on {n_select:,} samples",
                      config.epochs * train(n_select, 1, picked=True)))
    elif method == "learning_pct" and not config.trajectories_file:
        epochs = 1 if config.score == "lp1_app" else config.epochs
        parts.append((f"training the selector on the pool ({epochs} epoch(s))", train(n_pool, epochs)))
        parts.append((f"{epochs + 1} perplexity passes over the pool", (epochs + 1) * score(n_pool, ifd=False)))
    elif method in ("perplexity", "static_ifd") or (method == "deita" and config.score != "response_length"):
        ifd = method == "static_ifd" or (method == "deita" and config.score == "ifd")
        parts.append(("scoring the pool with the small model" + (" (IFD)" if ifd else ""), score(n_pool, ifd)))
    parts.sort(key=lambda p: -p[1])
    return RunEstimate(seconds=sum(s for _, s in parts), parts=parts, calibrated=rates is not None)


def _estimate_seconds() -> Callable[..., float]:
    # curation.model imports lazily and its estimate module needs neither torch nor transformers
    from curation.model.estimate import estimate_seconds

    return estimate_seconds


def calibration_key(method: str, config: Any, models: dict[str, str] | None = None) -> CalibrationKey:
    """The calibration a run of `method` with `models` (a run's models dict) is priced with; imports no torch."""
    from curation.model.calibration import key_for

    m = models or {}
    return key_for(m.get(ROLE.get(method, "scorer")) or None, device=m.get("device", ""),
                   dtype=m.get("dtype") or "auto", lora=bool(getattr(config, "lora", True)))


def rates_for_run(method: str, config: Any, models: dict[str, str] | None = None, *, calibrate: bool = False,
                  progress: Callable[[int, int, str], None] | None = None) -> Rates | None:
    """This machine's rates for the run, measured now when missing and `calibrate` (only for model methods)."""
    from curation.methods import registry
    from curation.model.calibration import rates_for

    uses_model = registry.get(method).uses_model
    return rates_for(calibration_key(method, config, models), calibrate_if_missing=calibrate and uses_model,
                     embedder=(models or {}).get("embedder") or None, progress=progress)


@dataclass(frozen=True, eq=False)
class PoolProfile:
    """What an estimate needs to know about a pool; the app caches it (reading every record costs seconds)."""

    n_pool: int
    prompt_chars: float  # means
    response_chars: float
    text_keys: np.ndarray  # reference-embedder cache keys of sampled texts (is the pool embedded yet?)
    lengths: tuple[np.ndarray, np.ndarray] | None = None  # every sample's prompt and response characters


PROFILE_ROWS = 2000  # texts checked against the embedding cache: evenly spaced, plus the newest (an import)


def profile_records(ws: Workspace) -> list[Record]:
    """Every sample up to PROFILE_ROWS, else PROFILE_ROWS / 2 evenly spaced ones and the PROFILE_ROWS / 2 newest:
    whether the pool is embedded, without decoding a million records (rowids are dense: samples are append-only)."""
    low, high = ws.query("SELECT COALESCE(MIN(rowid), 0), COALESCE(MAX(rowid), 0) FROM samples")[0]
    if high - low + 1 <= PROFILE_ROWS:
        wanted = np.arange(low, high + 1)
    else:
        half = PROFILE_ROWS // 2
        wanted = np.union1d(np.linspace(low, high, half).round(), np.arange(high - half + 1, high + 1))
    out: list[Record] = []
    for start in range(0, len(wanted), 900):
        chunk = [int(r) for r in wanted[start:start + 900]]
        out += [record_from_json(json.loads(r[0])) for r in ws.query(
            f"SELECT record FROM samples WHERE rowid IN ({','.join('?' * len(chunk))})", tuple(chunk))]
    return out


def pool_profile(ws: Workspace) -> PoolProfile:
    from curation.geometry.embed import sample_text
    from curation.geometry.embed_cache import text_keys

    keys = text_keys(sample_text(record, "text") for record in profile_records(ws))
    cur = ws.connect().cursor()
    cur.row_factory = None  # two integer columns of every sample, not its texts
    chars = np.array(cur.execute("SELECT prompt_chars, response_chars FROM samples ORDER BY rowid").fetchall(),
                     np.float64).reshape(-1, 2)
    prompt_chars, response_chars = (float(chars[:, 0].mean()), float(chars[:, 1].mean())) if len(chars) else (0.0, 0.0)
    return PoolProfile(n_pool=len(chars), prompt_chars=prompt_chars, response_chars=response_chars,
                       text_keys=keys, lengths=(chars[:, 0].copy(), chars[:, 1].copy()))


def estimate_for_workspace(ws: Workspace, method: str, config: Any, budget: Budget, *,
                           profile: PoolProfile | None = None, engine: str = "model",
                           models: dict[str, str] | None = None, calibrate: bool = False,
                           progress: Callable[[int, int, str], None] | None = None) -> tuple[RunEstimate, int]:
    """The estimate for a run of `method` on `ws`'s pool at `budget`, and about how many samples it selects.

    `select --estimate` and the Select page both call this; the page passes its cached `profile`; `engine`
    and `models` are the run's. The rates measured on this machine are used when cached; `calibrate=True`
    measures them first when they are missing (seconds of real model work: the CLI allows it, the page runs it
    as a job).
    """
    from curation.geometry.maps import embedded_share

    p = profile if profile is not None else pool_profile(ws)
    tokens = mean_tokens(p.prompt_chars, p.response_chars, 512)[0]
    n_select = min(sample_count(budget, p.n_pool, tokens_per_sample=tokens), p.n_pool)
    rates = rates_for_run(method, config, models, calibrate=calibrate, progress=progress) if engine != "fake" else None
    guess = estimate_run(method, config, n_pool=p.n_pool, n_select=max(1, n_select), prompt_chars=p.prompt_chars,
                         response_chars=p.response_chars, embedded=embedded_share(ws, p.text_keys) >= 1.0,
                         engine=engine, rates=rates, lengths=p.lengths)
    return guess, n_select
