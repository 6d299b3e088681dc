"""Two processes under `accelerate launch --multi_gpu` (gloo on CPU) train to the same loss curve and weights as one.

The training loop is the same code in both runs (`curation.model.train`); only the world differs. One process
runs each optimizer step's two micro-batches of 4 itself (grad_accum=2); two processes run one micro-batch
each (grad_accum=1) and sum their gradients before the step: the same global batch of 8, the same data order.

Tolerance: everything is fp32 with autocast off, so the runs differ only in the order gradients and losses are
summed (one process accumulates micro-batch 2 onto micro-batch 1 in place; gloo adds two partial sums), about
1e-7 relative per step (the launched processes also run one thread each, the test two). AdamW divides by
sqrt(v), which enlarges that on the odd weight whose gradient nearly cancels (every update is bounded by the
learning rate): measured, the worst element of a tensor differs by 1e-3 of the tensor's largest change (3e-6 of
3.5e-3) and nearly all by far less. So losses must agree to 1e-5 relative; in each tensor the worst element to
1e-6 + 5e-3 of the largest change, and the whole difference to 1e-3 of the change's norm.

`--multi_gpu` is accelerate's torchrun launcher; it needs no GPU (`World` forms a gloo group without one).
`accelerate launch --cpu --num_processes 2` starts one process unless mpirun is set up, so it is not used.

Run as a script, this file is the worker the launcher starts: `<model folder> <out folder>`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

STEPS_DATA = 24  # Dolly rows: 3 optimizer steps of 8 per epoch
CONFIG = {"epochs": 2, "batch_size": 4, "max_length": 96, "lora": False, "learning_rate": 1e-3,
          "warmup_ratio": 0.2, "autocast": "off", "dtype": "fp32"}


def run_training(model_dir: str, grad_accum: int) -> tuple[object, object]:
    from curation.model import TrainConfig, load_model, train
    from tests.shared_data import dolly_records

    lm = load_model(model_dir, device="cpu")
    result = train(lm, dolly_records(STEPS_DATA), config=TrainConfig(grad_accum=grad_accum, **CONFIG), seed=3)
    return lm, result


def _worker(model_dir: str, out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from curation.model import distributed

    torch.set_num_threads(1)  # two processes on two cores
    lm, result = run_training(model_dir, grad_accum=1)
    world = distributed.World.current()
    state = {k: v.detach().clone() for k, v in lm.model.state_dict().items()}  # clone: tied weights
    save_file(state, str(out / f"weights-{world.rank}.safetensors"))
    summary = {"size": world.size, "losses": result.losses, "steps": result.steps, "tokens": result.tokens,
               "label_tokens": result.label_tokens, "rates": result.learning_rates}
    (out / f"result-{world.rank}.json").write_text(json.dumps(summary), encoding="utf-8")


def test_two_processes_match_one(tiny_models, tmp_path):
    import torch
    from safetensors.torch import load_file

    launcher = Path(sys.executable).parent / "accelerate"
    if not launcher.exists():
        launcher = Path(shutil.which("accelerate") or "accelerate")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               ACCELERATE_DISABLE_RICH="1")
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
           "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()), __file__,
           str(tiny_models["plain"]), str(tmp_path)]
    # the single-process run goes first, so the launched processes do not compete with it for the two cores
    lm, single = run_training(str(tiny_models["plain"]), grad_accum=2)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    ranks = [json.loads((tmp_path / f"result-{r}.json").read_text()) for r in (0, 1)]
    assert [r["size"] for r in ranks] == [2, 2]  # really two processes, not two single-process runs
    multi = ranks[0]
    assert multi["steps"] == single.steps == 6
    assert multi["label_tokens"] == single.label_tokens
    assert multi["tokens"] == single.tokens  # tokens forwarded are summed over the processes
    assert multi["rates"] == single.learning_rates
    assert ranks[1]["losses"] == multi["losses"]  # every process reports the world's loss
    losses = torch.tensor(multi["losses"], dtype=torch.float64)
    torch.testing.assert_close(losses, torch.tensor(single.losses, dtype=torch.float64), rtol=1e-5, atol=0)
    assert single.losses[-1] < single.losses[0] - 0.1  # it learned: the comparison is not of two idle runs

    w0, w1 = (load_file(str(tmp_path / f"weights-{r}.safetensors")) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # the processes hold identical weights
    mine = {k: v.detach() for k, v in lm.model.state_dict().items()}
    before = load_file(str(next(Path(tiny_models["plain"]).glob("*.safetensors"))))
    for name, value in mine.items():
        start = before[name] if name in before else before["model.embed_tokens.weight"]  # lm_head: tied
        change = float((value - start).abs().max())
        assert change > 1e-3, name  # every tensor trained (lr 1e-3, 6 steps)
        diff = (w0[name] - value).abs()
        assert float(diff.max()) <= 1e-6 + 5e-3 * change, name
        assert float(diff.norm()) <= 1e-3 * float((value - start).norm()), name


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    _worker(sys.argv[1], Path(sys.argv[2]))
