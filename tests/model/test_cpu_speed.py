"""The CPU speed rule: the adoption bar, which option each CPU capability gets, its agreement with the precision
rule, and that the adopted path (bf16 autocast) keeps the NLL and IFD ranks of an fp32 run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from curation.errors import CurationError
from curation.model import ScoreConfig, score_records
from curation.model.cpu_speed import MEASURED, Measured, adopted, capability, meets_bar
from curation.model.loading import decide_precision
from tests.shared_data import dolly_records


@pytest.mark.parametrize(("speedup", "rho_nll", "rho_ifd", "expected"), [
    (1.3, 0.99, 0.99, True),          # exactly on the bar
    (2.68, 0.9999, 0.9993, True),
    (1.29, 1.0, 1.0, False),          # not fast enough
    (1.36, 0.80, 0.76, False),        # fast, but the ranking is lost
    (3.0, 0.995, 0.989, False),       # IFD alone below
    (math.nan, 1.0, 1.0, False),
    (2.0, math.nan, 1.0, False),
])
def test_bar(speedup, rho_nll, rho_ifd, expected):
    assert meets_bar(speedup, rho_nll, rho_ifd) is expected


def test_adopted_keeps_only_options_over_the_bar_for_that_capability():
    figures = (Measured("a", "fp32_only", 1.5, 0.995, 0.991), Measured("b", "fp32_only", 1.5, 0.98, 0.999),
               Measured("c", "native_bf16", 1.4, 1.0, 1.0), Measured("d", "fp32_only", 1.31, 0.999, 0.999))
    assert adopted("fp32_only", figures) == ("a", "d")
    assert adopted("native_bf16", figures) == ("c",)
    with pytest.raises(CurationError, match="capability 'avx2'"):
        adopted("avx2", figures)


def test_recorded_verdicts_and_the_precision_rule_agree():
    assert capability(True) == "native_bf16" and capability(False) == "fp32_only"
    assert adopted("native_bf16") == ("bf16_autocast",)
    assert adopted("fp32_only") == ()  # int8 dynamic quantisation lost the ranking: plain fp32 stays
    for native in (True, False):
        autocast = decide_precision("cpu", native).autocast
        assert autocast == ("bf16_autocast" in adopted(capability(native)))
    assert {m.capability for m in MEASURED} == {"native_bf16", "fp32_only"}


def test_adopted_path_keeps_nll_and_ifd_ranks_of_fp32(tiny_chat):
    records = dolly_records(48)
    base = score_records(tiny_chat, records, config=ScoreConfig(max_length=256, autocast="off"))
    fast = score_records(tiny_chat, records, config=ScoreConfig(max_length=256, autocast="bf16"))
    ok = base.ok
    assert ok.sum() >= 35 and np.array_equal(ok, fast.ok)
    assert not np.allclose(base.nll[ok], fast.nll[ok], rtol=0, atol=1e-6)  # bf16 really ran
    assert spearmanr(base.nll[ok], fast.nll[ok]).statistic >= 0.99
    assert spearmanr(base.ifd[ok], fast.ifd[ok]).statistic >= 0.99
