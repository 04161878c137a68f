"""The `change-control` rehearsal: a release freeze over the move to prod-stagger, a lead's
lock that outlasts it, and prod's hosts tiered canary first — the move waits for both,
then goes host tier by host tier, to success."""

from __future__ import annotations

from pathlib import Path

from tests.rehearsal.test_rehearsal import rehearse


def test_the_move_to_prod_waits_for_the_freeze_then_the_lock_then_goes_canary_first(
    tmp_path: Path,
) -> None:
    result = rehearse(tmp_path, "--scenario", "change-control", database=False)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    locked = out.index("/stagger lock prod --reason")
    frozen = out.index("prod is in a freeze window until", locked)
    held = out.index("prod is locked by", frozen)
    released = out.index("prod is unlocked: the lock", held)
    canary = out.index(
        "Canary verified: prod-stagger runs on sim@prod-1.rehearsal.example.com", released
    )
    assert out.index("prod-stagger now runs on every host of prod: verified on all 3", canary)
    assert "Rollbacks are never held" in out[frozen:held] or "rollbacks" in out[frozen:held].lower()
