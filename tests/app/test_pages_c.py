"""Hardening of the Data, Review and Select pages: long searches, what an undo reverts, interrupted runs."""

from __future__ import annotations

import socket
import subprocess

from streamlit.testing.v1 import AppTest

from curation.methods import runner
from curation.services import browse, jobs
from curation.workspace import run_lease, runs
from tests.app.test_pages import APP, app_ws, open_page, seeded, slice_path  # noqa: F401  (fixtures)


def open_with(page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run().switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_data_page_says_a_search_is_too_long_instead_of_crashing(seeded):  # noqa: F811
    at = open_page("data")
    at.text_input(key="data_text").input(" ".join(["water"] * 1200)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"search with at most {browse.MAX_TERMS}" in e.value for e in at.error)
    at.text_input(key="data_text").input("x" * 50_000).run()
    assert not at.exception and any(f"at most {browse.MAX_TERM_CHARS}" in e.value for e in at.error)
    at.switch_page("pages/review.py").run()  # the Review page's "data filter" queue never sees it
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("pages/data.py").run()
    at.text_input(key="data_text").input("water").run()
    assert not at.error and at.markdown[0].value.startswith(
        f"**{browse.count(seeded, browse.Filter(text='water')):,}** matching")



def test_data_page_says_while_the_search_index_catches_up(seeded):  # noqa: F811
    from curation.workspace import search_index

    total = seeded.scalar("SELECT COUNT(*) FROM samples")
    upto = total // 2
    writer = search_index.writer(seeded)  # the index's mark, as a crash before its catch-up leaves it
    writer.execute("UPDATE state SET upto = ?", (upto,))
    try:
        at = open_page("data")
        at.text_input(key="data_text").input("water").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(f"{total - upto:,} samples are matched by substring" in c.value for c in at.caption)
        assert at.markdown[0].value.startswith(f"**{browse.count(seeded, browse.Filter(text='water')):,}** matching")
    finally:
        writer.execute("UPDATE state SET upto = ?", (total,))
        writer.close()
    at.run()
    assert not any("catching up" in c.value for c in at.caption)


def test_select_shows_an_interrupted_run_and_resumes_it(seeded):  # noqa: F811
    run_id = runner.start_run(seeded, "kcenter", budget=20, models={"engine": "fake"})
    run_lease.acquire(seeded, run_id, owner=run_lease.Owner(pid=dead_pid(), host=socket.gethostname()))
    at = open_with("select", select_view="Timeline", select_timeline_run=run_id)
    assert any("interrupted" in m.value for m in at.markdown)
    at.button(key=f"select_resume_{run_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [j.kind for j in jobs.list_jobs(seeded, active_only=True)] == ["timeline", "select"]
    jobs.run_pending(seeded)
    assert runs.get(seeded, run_id).status == "done" and len(runs.iteration(seeded, run_id).selected) == 20


def test_select_offers_no_resume_while_a_live_runner_holds_the_run(seeded):  # noqa: F811
    run_id = runner.start_run(seeded, "kcenter", budget=20, models={"engine": "fake"})
    run_lease.acquire(seeded, run_id)  # this process: alive
    at = open_with("select", select_view="Timeline", select_timeline_run=run_id)
    assert any("running" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key == f"select_resume_{run_id}"]


def test_data_and_review_undo_this_tabs_own_decisions_and_say_which(seeded):  # noqa: F811
    from curation.workspace import decisions

    at = open_page("data")
    first = browse.page(seeded, limit=1)["id"].iloc[0]
    at.button(key="data_detail_approve").click().run()
    mine = decisions.events(seeded)[-1].actor
    assert mine.startswith("app:") and len(mine) > len("app:")
    assert any(c.value.startswith("Undo: approve of 1 sample, ") for c in at.caption)
    other = browse.page(seeded, limit=2)["id"].iloc[1]
    decisions.record(seeded, [other], "reject", actor="cli:bo")  # later, from the command line
    at.button(key="data_undo").click().run()
    assert decisions.state(seeded, first).status == "pending"
    assert decisions.state(seeded, other).status == "rejected"  # not this tab's to undo
    assert any(c.value == "Nothing of this tab's to undo." for c in at.caption)

    at.switch_page("pages/review.py").run()
    current = browse.matching_ids(seeded, browse.Filter(statuses=("pending",)))[0]
    at.button(key="review_approve").click().run()
    assert decisions.state(seeded, current).status == "approved" and decisions.events(seeded)[-1].actor == mine
    assert any(c.value.startswith("Undo: approve of 1 sample, ") for c in at.caption)
    tab_two = open_page("review")  # another tab: its own actor, nothing of its own to undo
    assert any(c.value == "Nothing of this tab's to undo." for c in tab_two.caption)
    tab_two.button(key="review_undo").click().run()
    assert decisions.state(seeded, current).status == "approved"
