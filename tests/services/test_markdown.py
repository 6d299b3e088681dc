"""Escaping user text for Markdown-rendering elements (curation.services.markdown) and the worker's environment
(curation.services.app_env), against hand-written expectations."""

from __future__ import annotations

import os

from curation.services import app_env
from curation.services.markdown import escape


def test_every_markdown_special_character_is_escaped():
    assert escape("[link](http://x.y) *b* _i_ `c` <b>") == r"\[link\]\(http\://x\.y\) \*b\* \_i\_ \`c\` \<b\>"
    assert escape("$x$ #h ~s~ a|b {c} !d +e -f =g \\") == r"\$x\$ \#h \~s\~ a\|b \{c\} \!d \+e \-f \=g \\"
    assert escape("one\ntwo") == "one  \ntwo"
    assert escape(3.5) == r"3\.5"
    assert escape("plain words, 1,000") == "plain words, 1,000"


def test_the_worker_environment():
    assert app_env.worker_enabled({}) and app_env.worker_enabled({app_env.START_WORKER_ENV: "1"})
    assert not app_env.worker_enabled({app_env.START_WORKER_ENV: "0"})
    sep = os.pathsep
    assert app_env.pythonpath_with("/p", "") == "/p"
    assert app_env.pythonpath_with("/p", f"/a{sep}{sep}/b") == f"/p{sep}/a{sep}/b"
    assert app_env.pythonpath_with("/p", f"/a{sep}/p") == f"/a{sep}/p"  # already there: unchanged
    assert os.path.isfile(os.path.join(app_env.PROJECT_ROOT, "curation", "__main__.py"))  # `python -m curation`
