"""The `canary` rehearsal: prod's three simulated hosts tiered, the canary first, a soak
on the rehearsal's clock, then the others one batch at a time, to success."""

from __future__ import annotations

from pathlib import Path

from tests.rehearsal.test_rehearsal import rehearse


def test_the_canary_rehearsal_soaks_prods_canary_then_runs_the_batches_to_success(
    tmp_path: Path,
) -> None:
    result = rehearse(tmp_path, "--scenario", "canary", database=False)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "Canary verified: prod-stagger runs on sim@prod-1.rehearsal.example.com only" in out
    assert "canary hosts only (sim@prod-1.rehearsal.example.com), during the soak" in out
    assert "prod-stagger now runs on every host of prod: verified on all 3 host(s)" in out
