"""What every page shares: the workspace, readable errors, plain-text display of user text, confirmations, jobs.

User text (instructions, responses, file names, error messages that quote them) is never rendered as HTML:
it goes through `st.code` / `st.text` / dataframes, or through `md()` (`curation.services.markdown.escape`)
before a Markdown-rendering call (st.caption, st.error, progress labels).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from curation.errors import CurationError
from curation.records import Record
from curation.services import app_env, jobs, review_queue
from curation.services.markdown import escape as md
from curation.workspace import DEFAULT_WORKSPACE, Workspace, samples

WORKSPACE_ENV = "CURATION_WORKSPACE"
TAB_PARAM = "tab"  # the URL's ?tab=<id>: this browser tab's name in the decision log
_ACTOR = "_decision_actor"
LONG_TEXT_CHARS = 1500


@st.cache_resource(show_spinner=False)
def _open_workspace(root: str) -> Workspace:
    return Workspace(root)


def workspace(*, from_entrypoint: bool = False) -> Workspace:
    """The app's workspace: $CURATION_WORKSPACE, default ./workspace (one shared object per server). Pages call
    it first; app.py, which calls st.navigation itself, passes `from_entrypoint`."""
    if not from_entrypoint:
        _leave_folder_navigation()
    return _open_workspace(os.environ.get(WORKSPACE_ENV, DEFAULT_WORKSPACE))


def _leave_folder_navigation() -> None:
    """When a server's first session opens a page's URL (a bookmark, a tab reconnecting after a restart),
    Streamlit runs that page's script alone with a sidebar listing every file in pages/: its old multipage mode,
    which it leaves only once `st.navigation` has been called. Leave it and rerun, so app.py draws this page."""
    from streamlit.runtime.pages_manager import PagesManager

    global _FOLDER_NAVIGATION_CHECKED
    if _FOLDER_NAVIGATION_CHECKED:  # once per server: after it, only AppTest resets Streamlit's flag, per run
        return
    _FOLDER_NAVIGATION_CHECKED = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()


_FOLDER_NAVIGATION_CHECKED = False


def actor() -> str:
    """This browser tab's name in the decision log ("app:<id>"); undo takes back this tab's own decisions.
    The id rides in the URL, so a refresh of the tab keeps it and a new tab gets its own."""
    state = st.session_state
    if _ACTOR not in state:
        state[_ACTOR] = review_queue.app_actor(st.query_params.get(TAB_PARAM) or uuid.uuid4().hex[:8])
    tab = state[_ACTOR].removeprefix("app:")
    if st.query_params.get(TAB_PARAM) != tab:  # page switches may drop it
        st.query_params[TAB_PARAM] = tab
    return str(state[_ACTOR])


def require_pool(ws: Workspace) -> None:
    """Stop the page with a pointer to Start when the workspace holds no samples yet."""
    if samples.count(ws) == 0:
        st.info("The pool is empty: load or import data on the Start page first.", icon=":material/inbox:")
        st.page_link("pages/start.py", label="Start", icon=":material/home:")
        st.stop()


@contextmanager
def shown_errors(*also: type[BaseException]) -> Iterator[None]:
    """Show a CurationError (something the user can fix) as a readable message, and the exception types in
    `also` (OSError where the user names a path); anything else is a bug and propagates to Streamlit's
    traceback."""
    try:
        yield
    except (CurationError, *also) as exc:
        st.error(md(exc), icon=":material/error:")


def plain(label: str, text: str) -> None:
    """A labelled block of user text, verbatim (never interpreted as Markdown or HTML)."""
    st.caption(label)
    if text.strip():  # long texts (Dolly's reference passages) scroll inside their block
        st.code(text, language=None, wrap_lines=True, height=360 if len(text) > LONG_TEXT_CHARS else "content")
    else:
        st.text("(empty)")


def show_record(record: Record) -> None:
    """A conversation as plain text: system, instruction/input for single-turn rows, else every turn."""
    if record.system.strip():
        plain("System", record.system)
    turns = record.turns
    if len(turns) == 2 and record.parts:
        plain("Instruction", record.instruction)
        if record.input.strip():
            plain("Input", record.input)
    else:
        for number, message in enumerate(turns[:-1], 1):
            plain(f"Turn {number}: {message.role}", message.content)
    plain("Response", record.response)


def confirm(message: str, on_yes: Callable[[], object], *, pending: str, keys: tuple[str, str],
            border: bool = True, icon: str | None = ":material/warning:") -> None:
    """A question with Confirm (runs `on_yes`, errors shown) and Cancel; either clears the session key
    `pending` that asked for it and redraws the page."""
    with st.container(border=border):
        st.warning(message, icon=icon)
        yes, no = st.columns(2)
        if yes.button("Confirm", key=keys[0], type="primary", width="stretch"):
            with shown_errors():
                on_yes()
            st.session_state.pop(pending, None)
            st.rerun()
        if no.button("Cancel", key=keys[1], width="stretch"):
            st.session_state.pop(pending, None)
            st.rerun()


# -- jobs (their cards and polling: pages/_job_panel.py) ------------------------------------------------------
def start_worker(ws: Workspace) -> None:
    """Make sure a worker runs jobs for this workspace (cheap when one does: a lock probe)."""
    if not app_env.worker_enabled(os.environ):
        return
    os.environ["PYTHONPATH"] = app_env.pythonpath_with(app_env.PROJECT_ROOT, os.environ.get("PYTHONPATH", ""))
    jobs.ensure_worker(ws)


def submit(ws: Workspace, kind: str, params: dict) -> int:
    """Queue a job and make sure a worker will pick it up."""
    job_id = jobs.submit(ws, kind, params)
    start_worker(ws)
    return job_id
