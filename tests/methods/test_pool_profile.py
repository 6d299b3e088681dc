"""The estimate's pool profile reads a bounded sample of records (evenly spaced ones and the newest), so the
Select page stays fast at a million rows; whether the pool is embedded is judged on that sample."""

from __future__ import annotations

from curation.methods import estimate
from curation.workspace import samples


def test_small_pools_are_read_whole_and_large_ones_sampled_with_the_newest(dolly_workspace, monkeypatch):
    ws = dolly_workspace(60)
    everything = [r for _, r in samples.iter_records(ws)]
    assert [r.id for r in estimate.profile_records(ws)] == [r.id for r in everything]
    monkeypatch.setattr(estimate, "PROFILE_ROWS", 10)
    picked = [r.id for r in estimate.profile_records(ws)]
    # 5 evenly spaced rowids over 1..60 (15.75 -> 16, 30.5 -> 30 rounding to even) and the 5 newest (56..60)
    rowids = {r[1]: r[0] for r in ws.query("SELECT rowid, id FROM samples")}
    assert sorted(rowids[i] for i in picked) == [1, 16, 30, 45, 56, 57, 58, 59, 60]
    profile = estimate.pool_profile(ws)
    assert profile.n_pool == 60 and len(profile.text_keys) == 9 and len(profile.lengths[0]) == 60
