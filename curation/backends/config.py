"""Which backend runs the per-sample passes: a frozen config, its form in a run's models and on the CLI.

A run stores its models as strings (`workspace/runs.py`), so the backend travels there as three keys:
"backend" ("in_process" or "ray"), "ray_address" ("local", "auto" or an address) and "ray_actors".
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from curation.configs import setting
from curation.errors import CurationError

Kind = Literal["in_process", "ray"]
KINDS = ("in_process", "ray")


@dataclass(frozen=True)
class BackendConfig:
    kind: Kind = setting("in_process", "in_process: this process; ray: Ray Data actors, each loading the model once")
    address: str = setting("local", "local: a Ray cluster this process starts; auto: the running one; or ray://host:port")
    actors: int = setting(1, "actors in the pool (one GPU each where the cluster has GPUs, else CPU actors)")
    cpus_per_actor: float = setting(1.0, "CPU cores each actor reserves (its torch threads follow)")
    batch_rows: int = setting(128, "samples per Ray batch (an actor's unit of work, and of a retry)")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CurationError(f"unknown backend {self.kind!r}; use in_process or ray")
        if self.actors < 1 or self.batch_rows < 1 or self.cpus_per_actor <= 0:
            raise CurationError("the Ray backend needs actors >= 1, batch_rows >= 1 and cpus_per_actor > 0")
        if self.kind == "ray" and not self.address.strip():
            raise CurationError("the Ray backend needs an address: local, auto or ray://host:port")

    @classmethod
    def from_models(cls, models: Mapping[str, str]) -> BackendConfig:
        """The backend a run's models ask for (in-process when they name none)."""
        kind = models.get("backend") or "in_process"
        if kind == "in_process":
            return cls()
        try:
            actors = int(models.get("ray_actors") or 1)
        except ValueError:
            raise CurationError(f"ray_actors must be a whole number, not {models.get('ray_actors')!r}") from None
        return cls(kind=kind, address=models.get("ray_address") or "local", actors=actors)  # type: ignore[arg-type]

    def to_models(self) -> dict[str, str]:
        """The keys `from_models` reads; merged over a run's models, they override its stored backend."""
        if self.kind == "in_process":
            return {"backend": "in_process"}
        return {"backend": "ray", "ray_address": self.address, "ray_actors": str(self.actors)}


def add_ray_arguments(p: argparse.ArgumentParser) -> None:
    """`--ray [ADDRESS]` and `--ray-actors N`, shared by embed, score and select."""
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the model passes on Ray Data actors: alone, a local cluster this command starts; "
                        "'auto' or ray://host:port, an existing cluster; 'off', in this process (to resume a Ray "
                        "run without Ray). Needs pip install -r requirements-ray.txt")
    p.add_argument("--ray-actors", type=int, default=1, metavar="N",
                   help="Ray actors, each loading the model once (one GPU each where there are GPUs; default 1)")


def from_args(args: argparse.Namespace) -> BackendConfig:
    """The backend a command's flags ask for (in-process without --ray, or with --ray off)."""
    if getattr(args, "ray", None) in (None, "off"):
        return BackendConfig()
    return BackendConfig(kind="ray", address=args.ray, actors=args.ray_actors)
