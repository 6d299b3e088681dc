"""The Export page asks before replacing an existing file, and says when the suffix contradicts the format."""

from __future__ import annotations

from tests.app.test_pages import app_ws, open_page, seeded, slice_path  # noqa: F401  (fixtures)


def test_export_asks_before_replacing_a_file(seeded, tmp_path):  # noqa: F811
    out = tmp_path / "curated.parquet"
    out.write_text("precious\n")
    at = open_page("export")
    at.text_input(key="export_path_alpaca_messages").input(str(out)).run()
    assert at.button(key="export_go").disabled  # nothing replaced without the confirmation
    assert out.read_text() == "precious\n"
    at.checkbox(key="export_replace").check().run()
    assert not at.button(key="export_go").disabled
    at.button(key="export_go").click().run()
    assert not at.exception and out.read_text() != "precious\n"
    assert any("does not match the format 'alpaca'" in w.value for w in at.warning)
