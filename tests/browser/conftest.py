"""Browser tests: Playwright drives Debian's chromium (never a browser Playwright downloads) against a real
`streamlit run app.py` on 127.0.0.1, with its own workspace and job worker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    # --no-sandbox: CI runs as root; the rest keep chromium off the (closed) network of test machines
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


@dataclass(frozen=True)
class AppServer:
    url: str
    workspace: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`streamlit run app.py` on a free loopback port with an empty workspace; torn down after the module."""
    from curation.services import jobs
    from curation.workspace import Workspace

    root = tmp_path_factory.mktemp("app")
    workspace, log = root / "ws", root / "server.log"
    env = {**os.environ, "CURATION_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    ws = Workspace(workspace)
    with open(log, "ab") as out:
        # the worker is started here, so the test can stop it; the app then finds it running and starts none
        worker = subprocess.Popen([sys.executable, "-m", "curation", "--workspace", str(workspace), "worker",
                                   "--idle-exit", "900"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                                   "--server.port", str(port), "--server.headless", "true",
                                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while not (_healthy(url) and jobs.worker_alive(ws)):
            if server.poll() is not None or worker.poll() is not None or time.time() > deadline:
                pytest.fail(f"the app did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield AppServer(url=url, workspace=workspace, log=log)
    finally:
        _stop(server)
        _stop(worker)
        ws.close()
