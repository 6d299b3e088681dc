"""Issue 7: a reproducible evidence report (`python bench/run.py` writes bench/REPORT.md). See bench/run.py."""
