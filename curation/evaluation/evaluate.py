"""Does a selection train a better model than random? Fine-tune, score a held-out set, compare.

`create_evaluation` fixes everything an evaluation compares (its settings, filled from the run's method config,
and a copy of the held-out records); `run_evaluation` trains and scores each model in turn and stores it the
moment it is scored, so a killed evaluation resumes where it stopped and never trains a finished model again.

Models: the base target model (untrained), the method's in-run model where the method trains the target on its
own selection (IterIT's last checkpoint), the selection trained with each of `train_seeds` seeds, and
`random_subsets` random subsets of the same size (or the same trained tokens) trained with the same seeds.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from curation import heap
from curation.configs import config_from_dict
from curation.errors import Cancelled, CurationError
from curation.evaluation import heldout as heldout_sets
from curation.evaluation import results, reuse, subsets
from curation.evaluation.results import ModelKey
from curation.records import Record, record_from_json, record_to_json
from curation.workspace import runs, samples
from curation.workspace.arrays import atomic_write_text, save_array

if TYPE_CHECKING:
    from curation.model.loading import Autocast
from curation.workspace.db import Workspace

Progress = Callable[[int, int, str], None]
IN_RUN_METHODS = ("iterit",)  # methods whose last checkpoint is the target trained on the selection itself
_TRAIN_ON = {"final_turn": "last", "all_assistant_turns": "all_assistant"}
SCORE_PRECISIONS = ("fp32", "auto")
_SCORE_AUTOCAST: dict[str, Autocast] = {"fp32": "off", "auto": "auto"}


@dataclass(frozen=True)
class EvaluateConfig:
    """None: taken from the run's method config when it has the setting, else the training defaults."""

    random_subsets: int = 5
    train_seeds: int = 3
    token_matched: bool = False  # random subsets hold the selection's trained tokens instead of its size
    each_random_once: bool = False  # random subset r trained once, with seed r mod train_seeds (R models, not R x S)
    heldout: str = "split"  # "split" (carved with `heldout`) or a file in any importable format
    epochs: int | None = None
    max_length: int | None = None
    batch_size: int | None = None  # effective batch (micro-batch x gradient accumulation)
    learning_rate: float | None = None  # None/0: 2e-4 with LoRA, 2e-5 for full fine-tuning
    lora: bool | None = None
    max_steps: int | None = None
    include_base: bool = True  # score the untrained target model too
    retrain_selection: bool = True  # False: the method's in-run model stands for it (IterIT), the selection is not
    # fine-tuned again
    decontaminate: bool = True  # leave out held-out rows near-duplicating a training row
    contamination_cosine: float = 0.9
    bootstrap_resamples: int = 2000
    # "fp32": held-out losses computed exactly; "auto": bf16 autocast where the hardware has it (~1.8x faster on
    # AMX CPUs, but a row's loss moves by up to ~0.03, as much as the differences being measured)
    score_precision: str = "fp32"
    seed: int = 0
    model: str = ""  # "": the run's target model
    device: str = ""

    def validate(self) -> None:
        if self.random_subsets < 1 or self.train_seeds < 1 or self.bootstrap_resamples < 1:
            raise CurationError("random_subsets, train_seeds and bootstrap_resamples must be at least 1")
        if self.score_precision not in SCORE_PRECISIONS:
            raise CurationError(f"unknown score_precision {self.score_precision!r}; use "
                                + " or ".join(SCORE_PRECISIONS))

    def __post_init__(self) -> None:
        self.validate()


def resolve_config(run: runs.Run, config: EvaluateConfig) -> EvaluateConfig:
    """Every None filled from the run's method config, else TrainSettings' defaults (epochs: 1)."""
    from curation.methods.engines.base import TrainSettings

    method, fallback = run.config, TrainSettings()
    return replace(
        config,
        epochs=config.epochs or int(method.get("epochs", 1)),
        max_length=config.max_length or int(method.get("max_length", fallback.max_length)),
        batch_size=config.batch_size or int(method.get("batch_size", fallback.batch_size)),
        learning_rate=config.learning_rate or float(method.get("learning_rate", 0.0)) or None,
        lora=config.lora if config.lora is not None else bool(method.get("lora", fallback.lora)),
        model=config.model or run.models.get("target", ""),
        device=config.device or run.models.get("device", ""))


def create_evaluation(ws: Workspace, run_id: int, iteration: int | None = None,
                      config: EvaluateConfig = EvaluateConfig()) -> int:
    """Record an evaluation of a run's iteration (the last by default); nothing is trained yet."""
    run = runs.get(ws, run_id)
    it = runs.iteration(ws, run_id, iteration)
    config = resolve_config(run, config)
    if config.heldout == "split":
        ids, records = heldout_sets.heldout_records(ws)
        inside = set(ids) & set(it.selected)
        if inside:
            raise CurationError(f"{len(inside)} held-out samples are in run {run_id}'s selection (carved after the "
                                "run): start a new run, or name a held-out file")
        source: dict[str, Any] = {"source": "split", "ids": len(ids)}
    else:
        records = heldout_sets.read_records(config.heldout)
        source = {"source": config.heldout}
    if not config.retrain_selection and not (run.method in IN_RUN_METHODS and it.checkpoint):
        raise CurationError(f"run {run_id} ({run.method}) has no in-run model for iteration {it.iteration}: its "
                            "selection must be fine-tuned (retrain_selection)")
    evaluation_id = results.create(ws, run_id, it.iteration, asdict(config), {**source, "rows": len(records)})
    text = "".join(json.dumps(record_to_json(r)) + "\n" for r in records)
    atomic_write_text(ws.path(*results.folder(ws, evaluation_id, "heldout.jsonl").split("/")), text)
    return evaluation_id


def run_evaluation(ws: Workspace, evaluation_id: int, *, progress: Progress | None = None,
                   should_stop: Callable[[], bool] | None = None) -> results.Report:
    """Train and score every model not stored yet, then return the report. Cancellation raises `Cancelled`."""
    evaluation = results.get(ws, evaluation_id)
    config = config_from_dict(EvaluateConfig, evaluation.config)
    results.update(ws, evaluation_id, status="running")
    try:
        _run(ws, evaluation, config, progress, should_stop)
    except BaseException as exc:
        cancelled = isinstance(exc, Cancelled)
        results.update(ws, evaluation_id, status="cancelled" if cancelled else "failed", error=str(exc)[:2000])
        raise
    results.update(ws, evaluation_id, status="done")
    return results.report(ws, evaluation_id)


def _run(ws: Workspace, evaluation: results.Evaluation, config: EvaluateConfig, progress: Progress | None,
         should_stop: Callable[[], bool] | None) -> None:
    from curation.model import load_model

    eid = evaluation.evaluation_id
    run = runs.get(ws, evaluation.run_id)
    selected = runs.iteration(ws, run.run_id, evaluation.iteration).selected
    heldout_path = ws.root / results.folder(ws, eid, "heldout.jsonl")
    held = [record_from_json(json.loads(line)) for line in heldout_path.read_text(encoding="utf-8").splitlines()]
    lm = load_model(config.model or None, device=config.device or None)
    train_config = _train_config(config, run)
    pool_ids, pool = _pool(ws)
    tokens = subsets.trained_tokens(lm.tokenizer, lm.template, pool, max_length=int(config.max_length or 0),
                                    train_on=train_config.train_on)
    plan = _plan(ws, run, selected, pool_ids, tokens, config, held)
    info = dict(evaluation.heldout)
    if "valid_rows" not in info:  # fixed once: a resumed evaluation compares on the same rows
        valid, info = _valid_rows(ws, lm, held, plan, pool_ids, config, info)
        save_array(ws.path(*results.folder(ws, eid, "valid.npy").split("/")), valid)
        results.update(ws, eid, heldout=info)
    valid = results.valid_rows(ws, eid)
    models = _models(ws, run, evaluation, config)
    info["planned_models"] = len(models)
    results.update(ws, eid, heldout=info)
    finished = {m.key for m in results.models(ws, eid)}
    scored_bf16 = scores_in_bf16(lm, config)
    del lm
    heldout_sha, dtype = reuse.file_sha(heldout_path), run.models.get("dtype") or ""
    for done, key in enumerate(models):
        if key in finished:
            continue
        if should_stop is not None and should_stop():
            raise Cancelled(f"evaluation {eid} stopped after {done} of {len(models)} models")
        rows = plan.get(key.role, {}).get(key.subset_index)
        single = rows is not None and all(pool[int(i)].n_turns == 1 for i in rows)
        print_ = reuse.fingerprint(key, config=config, train_config=train_config, rows=rows, pool_ids=pool_ids,
                                   heldout_sha=heldout_sha, dtype=dtype, single_turn=single,
                                   scored_bf16=scored_bf16)
        if print_ and reuse.reuse(ws, eid, key, print_, valid) is not None:
            if progress is not None:
                progress((done + 1) * 1000, len(models) * 1000, f"{key.label} reused from an earlier evaluation")
            continue
        report = _scaled(progress, done, len(models), key.label)
        started = time.time()
        lm, n_train, n_tokens, skipped = _model_for(ws, run, evaluation, config, train_config, key, rows, pool,
                                                    plan.get("skipped", {}), report, should_stop)
        losses = _score(lm, held, config, report, should_stop)
        del lm  # before the next model loads: rebinding the name afterwards would hold two models at once
        heap.return_freed_memory()  # training's freed activations (GBs) back to the OS before the next model
        results.add_model(ws, eid, key, losses, valid, n_train=n_train, n_tokens=n_tokens, skipped=skipped,
                          seconds=time.time() - started, fingerprint=print_)
        if progress is not None:
            progress((done + 1) * 1000, len(models) * 1000, f"{key.label} done")


def scores_in_bf16(lm: Any, config: EvaluateConfig) -> bool:
    """Whether held-out scoring computes in bf16 here (bf16 weights, or autocast allowed and native)."""
    from curation.model import forward

    return forward.computes_in_bf16(lm, _SCORE_AUTOCAST[config.score_precision])


def _pool(ws: Workspace) -> tuple[list[str], list[Record]]:
    ids, records = [], []
    for sid, record in samples.iter_records(ws):
        ids.append(sid)
        records.append(record)
    return ids, records


def _train_config(config: EvaluateConfig, run: runs.Run) -> Any:
    from curation.model import TrainConfig

    batch = int(config.batch_size or 8)
    micro = max(1, min(8, batch))  # as the model engine splits a method's effective batch
    return TrainConfig(epochs=int(config.epochs or 1), max_steps=config.max_steps, learning_rate=config.learning_rate,
                       batch_size=micro, grad_accum=math.ceil(batch / micro), max_length=int(config.max_length or 0),
                       lora=bool(config.lora), train_on=_TRAIN_ON.get(run.config.get("train_on", ""), "all_assistant"),
                       dtype=run.models.get("dtype") or "auto")


def _plan(ws: Workspace, run: runs.Run, selected: list[str], pool_ids: list[str], tokens: np.ndarray,
          config: EvaluateConfig, held: list[Record]) -> dict[str, Any]:
    """Pool rows per subset: the trainable part of the selection, and the random subsets drawn to match it."""
    from curation.methods.runner import load_constraints

    row_of = {s: i for i, s in enumerate(pool_ids)}
    missing = [s for s in selected if s not in row_of]
    if missing:
        raise CurationError(f"{len(missing)} selected samples are not in the pool any more")
    chosen = np.array([row_of[s] for s in selected], np.int64)
    trainable = chosen[tokens[chosen] > 0]
    excluded = load_constraints(ws, run.run_id, pool_ids).excluded.copy()
    held_ids = {r.id for r in held}
    excluded |= np.array([s in held_ids for s in pool_ids], bool)  # a held-out row is never trained on
    candidates = np.flatnonzero(~excluded & (tokens > 0))
    randoms = {}
    for r in range(config.random_subsets):
        rng = np.random.default_rng([config.seed, r])
        randoms[r] = (subsets.token_matched_subset(candidates, tokens, int(tokens[trainable].sum()), rng)
                      if config.token_matched else subsets.random_subset(candidates, len(trainable), rng))
    return {"selection": {0: trainable}, "random": randoms, "skipped": {"selection": len(chosen) - len(trainable)}}


def _valid_rows(ws: Workspace, lm: Any, held: list[Record], plan: dict[str, Any], pool_ids: list[str],
                config: EvaluateConfig, info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Held-out rows scorable at max_length (weight-independent: the same for every model), less contaminated ones."""
    from curation.model.formatting import OK, Formatter

    status = [f.status for f in Formatter(lm.tokenizer, lm.template, int(config.max_length or 0)).format(held)]
    valid = np.array([s == OK for s in status], bool)
    info = {**info, "unscorable": int((~valid).sum())}
    if config.decontaminate:
        from curation.evaluation.decontamination import find_contamination as find

        trained = sorted({pool_ids[int(i)] for rows in (plan["selection"], plan["random"]) for part in rows.values()
                          for i in part})
        pairs = find(ws, held, cosine=config.contamination_cosine, sample_ids=trained)
        dirty = sorted({int(p.eval_index) for p in pairs})
        valid[dirty] = False
        info["contaminated"] = len(dirty)
    if not valid.any():
        raise CurationError("no held-out row can be scored at max_length (all truncated, empty or contaminated)")
    info["valid_rows"] = int(valid.sum())
    return valid, info


def _models(ws: Workspace, run: runs.Run, evaluation: results.Evaluation, config: EvaluateConfig) -> list[ModelKey]:
    keys = [ModelKey("base")] if config.include_base else []
    if _in_run_checkpoint(ws, run, evaluation):
        keys.append(ModelKey("in_run"))
    if config.retrain_selection:
        keys += [ModelKey("selection", 0, s) for s in range(config.train_seeds)]
    return keys + results.random_model_keys(asdict(config))


def _in_run_checkpoint(ws: Workspace, run: runs.Run, evaluation: results.Evaluation) -> str:
    """The run's own model of the evaluated iteration, where the method trains the target on its selection."""
    from curation.model.checkpoints import has_checkpoint

    if run.method not in IN_RUN_METHODS:
        return ""
    name = runs.iteration(ws, run.run_id, evaluation.iteration).checkpoint
    return name if name and has_checkpoint(ws.root, name) else ""


def _model_for(ws: Workspace, run: runs.Run, evaluation: results.Evaluation, config: EvaluateConfig,
               train_config: Any, key: ModelKey, rows: np.ndarray | None, pool: list[Record],
               skipped_before: dict[str, int], report: Progress | None,
               should_stop: Callable[[], bool] | None) -> tuple[Any, int, int, int]:
    """(model, trained samples, trained tokens, rows skipped) for one key."""
    from curation.model import load_checkpoint, load_model, train

    if key.role == "in_run":
        name = _in_run_checkpoint(ws, run, evaluation)
        if not name:
            raise CurationError(f"run {run.run_id}'s checkpoint for iteration {evaluation.iteration} is gone")
        return load_checkpoint(ws, name, device=config.device or None), 0, 0, 0
    lm = load_model(config.model or None, device=config.device or None, dtype=run.models.get("dtype") or None)
    if key.role == "base":
        return lm, 0, 0, 0
    assert rows is not None
    result = train(lm, [pool[int(i)] for i in rows], config=train_config, seed=config.seed + key.seed,
                   progress=report, should_stop=should_stop)
    skipped = skipped_before.get(key.role, 0) + len(result.skipped)
    return lm, result.trained_samples, result.trained_tokens, skipped


def _score(lm: Any, held: list[Record], config: EvaluateConfig, report: Progress | None,
           should_stop: Callable[[], bool] | None) -> np.ndarray:
    from curation.model import ScoreConfig, score_records

    length = int(config.max_length or 0)
    score = ScoreConfig(max_length=length, ifd=False, batch_tokens=max(4096, length),
                        autocast=_SCORE_AUTOCAST[config.score_precision])
    result = score_records(lm, held, config=score, progress=report, should_stop=should_stop)
    return np.asarray(result.nll, np.float32)


def _scaled(progress: Progress | None, done: int, total: int, label: str) -> Progress | None:
    if progress is None:
        return None

    def report(step: int, of: int, message: str) -> None:
        frac = min(1.0, step / of) if of else 0.0
        progress(int((done + frac) * 1000), total * 1000, f"model {done + 1}/{total} ({label}): {message}")

    return report
