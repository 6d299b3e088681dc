"""`python -m bench` = `python bench/run.py` (the evidence report, issue 7)."""

from bench.run import main

main()
