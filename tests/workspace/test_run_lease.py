"""A run has one runner at a time: a lease (owner pid and host, heartbeat) taken atomically when it starts.

The kill test runs a real second process: it owns the run mid-way (a fake engine slowed by a sleep in each
training call), a second runner is refused, and after `kill -9` the run resumes to the selection an
uninterrupted run reaches.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from curation.errors import CurationError
from curation.methods import runner
from curation.workspace import runs
from tests.shared_data import ROOT

FAKE = {"engine": "fake"}
CONFIG = {"rounds": 4, "epochs": 1}
SLOW_RUNNER = textwrap.dedent("""
    import sys, time
    from curation.methods import runner
    from curation.methods.engines.fake_engine import FakeEngine
    from curation.workspace import Workspace

    class Slow(FakeEngine):
        def train(self, *args, **kwargs):
            time.sleep(float(sys.argv[3]))
            return super().train(*args, **kwargs)

    extra = {"lease_stale_s": float(sys.argv[4])} if len(sys.argv) > 4 else {}
    runner.run_selection(Workspace(sys.argv[1]), int(sys.argv[2]),
                         engine_factory=lambda ws, records, models: Slow(records, models, root=ws.root), **extra)
""")


@pytest.fixture(scope="module")
def ws(dolly_workspace):
    return dolly_workspace(150)


def _start(ws, run_id: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLOW_RUNNER, str(ws.root), str(run_id), *args], cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the runner exited early: {proc.stdout.read() if proc.stdout else ''}")
        assert time.time() < deadline, "the runner never got there"
        time.sleep(0.1)


def test_a_second_runner_is_refused_and_a_killed_run_resumes(ws, capsys):
    whole = runner.start_run(ws, "diverse_evol", budget=30, config=CONFIG, seed=3, models=FAKE)
    runner.run_selection(ws, whole)
    expected = [it.selected for it in runs.iterations(ws, whole)]

    run_id = runner.start_run(ws, "diverse_evol", budget=30, config=CONFIG, seed=3, models=FAKE)
    proc = _start(ws, run_id, "1.5")
    try:
        _wait_for(lambda: len(runs.iterations(ws, run_id)) >= 1, proc)
        assert runs.get(ws, run_id).status == "running"
        pattern = rf"run {run_id} is being run by pid {proc.pid} on {socket.gethostname()} since .*; wait, or cancel it"
        with pytest.raises(CurationError, match=pattern):
            runner.run_selection(ws, run_id)
        from curation.cli import main
        from curation.services import run_queue

        with pytest.raises(CurationError, match=pattern):
            run_queue.queue_resume(ws, run_id)
        capsys.readouterr()
        assert main(["-w", str(ws.root), "select", "--resume", str(run_id), "--engine", "fake"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: run {run_id} is being run by pid {proc.pid}")
        assert len(runs.iterations(ws, run_id)) < len(expected)  # still mid-run
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert runs.get(ws, run_id).status == "interrupted"  # its owner is gone
    runner.run_selection(ws, run_id)
    assert [it.selected for it in runs.iterations(ws, run_id)] == expected
    done = runs.get(ws, run_id)
    assert done.status == "done" and done.owner == ""


def test_a_long_step_keeps_heartbeating_and_a_silent_owner_expires(ws):
    run_id = runner.start_run(ws, "diverse_evol", budget=30, config=CONFIG, seed=4, models=FAKE)
    proc = _start(ws, run_id, "6.0", "2.0")  # each training call outlasts the stale limit three times
    try:
        _wait_for(lambda: runs.get(ws, run_id).owner != "", proc)
        for _ in range(3):  # a heartbeat thread, not the iterations, keeps the lease fresh
            time.sleep(2.4)
            with pytest.raises(CurationError, match=f"is being run by pid {proc.pid}"):
                runner.run_selection(ws, run_id, lease_stale_s=2.0)
        os.kill(proc.pid, signal.SIGSTOP)  # alive but silent: the lease goes stale after the limit
        time.sleep(3.0)
        assert runs.get(ws, run_id, lease_stale_s=2.0).status == "interrupted"
        assert runs.get(ws, run_id).status == "running"  # under the default limit it is still fresh
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_lease_on_another_host_expires_only_by_its_heartbeat(ws):
    from curation.workspace import run_lease

    run_id = runner.start_run(ws, "random", budget=10, models=FAKE)
    other = run_lease.Owner(pid=os.getpid(), host="elsewhere.example")
    run_lease.acquire(ws, run_id, owner=other)
    with pytest.raises(CurationError, match=rf"run {run_id} is being run by pid {os.getpid()} on elsewhere.example"):
        runner.run_selection(ws, run_id, lease_stale_s=0.5)
    time.sleep(0.7)
    assert runner.run_selection(ws, run_id, lease_stale_s=0.5).status == "done"


def test_a_dead_pid_on_this_host_frees_the_lease_at_once(ws):
    from curation.workspace import run_lease

    gone = subprocess.Popen(["true"])
    gone.wait()
    run_id = runner.start_run(ws, "random", budget=10, models=FAKE)
    run_lease.acquire(ws, run_id, owner=run_lease.Owner(pid=gone.pid, host=socket.gethostname()))
    assert runs.get(ws, run_id).status == "interrupted"
    assert runner.run_selection(ws, run_id).status == "done"
