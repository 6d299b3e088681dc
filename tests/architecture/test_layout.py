"""The layout's rules as checked facts: the backend never draws, pages hold no SQL, the linters catch a planted
violation, and the job kinds that old workspaces store still resolve to a job function."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys

import pytest

from tests.shared_data import ROOT

# every job kind a workspace may hold in its jobs table, since the first release: renaming one strands its jobs
STORED_JOB_KINDS = ("import", "embed", "umap", "select", "score", "dedup_scan", "timeline", "sleep")


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_the_backend_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "curation").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_pages_hold_no_sql():
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\s+.*\b(FROM|INTO|SET)\b|read_sql", re.IGNORECASE)
    offenders = [f"{p.name}:{i}" for p in [*(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if sql.search(line)]
    assert offenders == []


def _ruff(source: str, filename: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", filename, "-"],
                          input=source, capture_output=True, text=True, cwd=ROOT)


def test_ruff_refuses_streamlit_in_the_backend_and_allows_it_in_pages():
    planted = "import streamlit as st\n\nst.write('drawn by the backend')\n"
    backend = _ruff(planted, "curation/geometry/planted.py")
    assert backend.returncode == 1 and "TID251" in backend.stdout
    assert _ruff(planted, "pages/planted.py").returncode == 0


def test_mypy_refuses_a_planted_type_error(tmp_path):
    pytest.importorskip("mypy")
    planted = tmp_path / "planted.py"
    planted.write_text("def half(n: int) -> int:\n    return n / 2\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--config-file",
                           str(ROOT / "pyproject.toml"), str(planted)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "Incompatible return value type" in done.stdout


@pytest.mark.parametrize("kind", STORED_JOB_KINDS)
def test_job_kinds_stored_by_old_workspaces_still_resolve(kind):
    from curation.services import jobs

    module, func = jobs.KINDS[kind].split(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_a_job_queued_by_an_old_workspace_runs(ws):
    """A row written straight into the jobs table, as an earlier version did, is run by today's worker."""
    from curation.services import jobs

    with ws.transaction() as conn:
        conn.execute("INSERT INTO jobs(kind, params, status, created) VALUES ('sleep', '{\"steps\": 2, "
                     "\"seconds\": 0}', 'queued', 0)")
    assert jobs.run_pending(ws) == 1
    job = jobs.list_jobs(ws)[0]
    assert (job.status, job.result) == ("done", {"steps": 2})
