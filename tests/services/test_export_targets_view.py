"""Which files an export would replace (the Export page asks before replacing them)."""

from __future__ import annotations

from curation.services import export_view as view


def test_existing_targets_lists_the_files_an_export_would_replace(tmp_path):
    out = tmp_path / "curated.jsonl"
    assert view.existing_targets(out, write_rejected=True) == []
    out.write_text("old\n")
    assert view.existing_targets(out, write_rejected=False) == [out]
    rejected = tmp_path / "curated.rejected.jsonl"
    rejected.write_text("old\n")
    assert view.existing_targets(out, write_rejected=True) == [out, rejected]
    assert view.existing_targets(tmp_path, write_rejected=False) == []  # a folder is not replaced: export refuses it
