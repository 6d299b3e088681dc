"""The Start page's import values (curation.services.import_view) against hand-written import rows, and the
report of a real import of a file with planted problems."""

from __future__ import annotations

import json
import os
import time

import pandas as pd

from curation.formats import importer, loaders
from curation.services import import_view as view


def test_safe_upload_names():
    assert view.safe_upload_name("my set.jsonl") == "my_set.jsonl"
    assert view.safe_upload_name("../../etc/passwd") == "passwd"
    assert view.safe_upload_name("dir\\évil name!.csv") == "dir_vil_name_.csv"
    assert view.safe_upload_name("...") == view.DEFAULT_UPLOAD_NAME


def test_source_stamp_changes_with_the_file(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("{}\n")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert view.source_stamp(str(path)) == (1_000_000_000, 3)
    path.write_text("{}\n{}\n")
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    assert view.source_stamp(str(path)) == (2_000_000_000, 6)
    assert view.source_stamp("databricks/databricks-dolly-15k") == ()


def test_preview_columns_show_optional_fields_only_when_used():
    base = {"line": [1, 2], "instruction": ["a", "b"], "response": ["c", "d"], "input": ["", ""],
            "system": ["", ""], "turns": [1, 1]}
    assert view.preview_columns(pd.DataFrame(base)) == ["line", "instruction", "response"]
    used = {**base, "system": ["", "be brief"], "turns": [1, 3]}
    assert view.preview_columns(pd.DataFrame(used)) == ["line", "instruction", "response", "system", "turns"]


IMP = {"import_id": 3, "source": "/data/x/train.jsonl", "schema": "alpaca", "rows_read": 1500, "rows_imported": 1490,
       "new_samples": 1200, "duplicates": 290, "skipped": 10, "created": time.mktime((2026, 1, 2, 3, 4, 0, 0, 0, -1)),
       "problems": {"counts": {"malformed_json": 2, "empty_response": 8},
                    "first": [{"source": "/data/x/train.jsonl", "line": 7, "kind": "malformed_json", "message": "no"}]}}


def test_report_values_of_an_import_row():
    assert view.report_tiles(IMP) == [("Rows read", "1,500"), ("Valid", "1,490"), ("New samples", "1,200"),
                                      ("Duplicates", "290"), ("Skipped", "10")]
    counts = view.problem_counts(IMP)
    assert counts["problem"].tolist() == ["empty_response", "malformed_json"] and counts["rows"].tolist() == [8, 2]
    assert counts["meaning"].tolist() == [loaders.PROBLEM_KINDS["empty_response"],
                                          loaders.PROBLEM_KINDS["malformed_json"]]
    assert view.first_problems(IMP).to_dict("records") == [{"where": "train.jsonl:7", "problem": "malformed_json",
                                                            "message": "no"}]
    table = view.imports_table([IMP, {**IMP, "import_id": 4}])
    assert table["import"].tolist() == [4, 3] and table["when"].tolist() == ["2026-01-02 03:04"] * 2
    assert view.import_label(IMP) == "#3: train.jsonl"


def test_the_report_of_a_real_import(ws, tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [json.dumps({"instruction": f"q{i}", "input": "", "output": f"a{i}"}) for i in range(4)]
    rows += ["{not json", json.dumps({"instruction": "q0", "input": "", "output": "a0"})]
    path.write_text("\n".join(rows) + "\n")
    importer.import_source(ws, str(path))
    (imp,) = importer.list_imports(ws)
    tiles = dict(view.report_tiles(imp))
    assert (tiles["Rows read"], tiles["New samples"], tiles["Duplicates"], tiles["Skipped"]) == ("6", "4", "1", "1")
    assert view.first_problems(imp)["where"].tolist() == ["mixed.jsonl:5"]
    assert view.problem_counts(imp)["rows"].tolist() == [1]


def test_schema_choices_labels_and_the_chosen_schema():
    from curation.formats import schemas

    assert view.schema_choices() == ["detected", *schemas.SCHEMAS] and "alpaca" in view.schema_choices()
    assert view.schema_label("detected", "dolly") == "detected: dolly"
    assert view.schema_label("detected", None) == "detected: none fits"
    assert view.schema_label("sharegpt", "dolly") == "sharegpt"
    assert view.chosen_schema("detected") is None and view.chosen_schema("messages") == "messages"
