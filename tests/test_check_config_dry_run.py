"""`check-config` with a dry-run KPI: `dry_run = true` in `[kpis.<name>]` is accepted, a
value that is no boolean is refused with its key path."""

from __future__ import annotations

from pathlib import Path

from tests.test_check_config import spec_with, stagger_bot


def test_check_config_accepts_a_dry_run_kpi(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, ("min_events = 10\n", "min_events = 10\ndry_run = true\n"))
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": OK" in result.stdout


def test_check_config_refuses_a_dry_run_that_is_no_boolean(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, ("min_events = 10\n", 'min_events = 10\ndry_run = "maybe"\n'))
    result = stagger_bot("check-config", str(spec), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "kpis.lock_skips.dry_run" in result.stderr
    assert "Traceback" not in result.stderr
