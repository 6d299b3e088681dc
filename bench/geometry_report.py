"""Small helpers the geometry benchmarks share: fresh-process cases, peak memory, machine facts, and writing
figures into this area's section ("## Geometry (issue 3)") of bench/README.md without touching the others."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import readme_blocks  # bench/ is on sys.path: the scripts importing this run from it

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Geometry (issue 3)"


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM: unlike ru_maxrss, not inherited through exec
    from the parent that spawned us)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(script: str, *args: str, timeout: float = 3600) -> dict:
    """Run `script --case ...` in a fresh interpreter (clean peak RSS) and return the JSON it prints last."""
    cmd = [sys.executable, str(Path(__file__).resolve().parent / script), "--case", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, load average at start {load:.2f}")


def write_block(name: str, markdown: str) -> None:
    """Replace (or append) the block `name` inside the geometry section of bench/README.md."""
    readme_blocks.write_block(SECTION, "geometry", name, markdown, README)
