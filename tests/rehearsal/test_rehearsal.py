"""`stagger-bot rehearse`: every scenario, run as a user runs it, exits 0 only when its
expected outcome happened — the real bot against the simulated fleet."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from tests.support.job_table import DSN

EXAMPLE = Path("stagger.example.toml")
# The runbook's phases with an hour standing for a day, and checkpoints every hour: every
# phase, check and report of the real run in a test's time. The README's command (and
# its test) runs the full twelve days.
HOURS = {"staging-baseline": 2, "staging-stagger": 3, "prod-baseline": 1, "prod-stagger": 4}


def short_spec(tmp_path: Path) -> Path:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for phase in data["phases"]:
        phase["min_duration_h"] = HOURS[phase["name"]]
        phase.pop("max_duration_h", None)
    data["checkpoints"]["cron"] = "0 * * * *"
    path = tmp_path / "short.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def rehearse(
    tmp_path: Path, *arguments: str, database: bool = True, short: bool = True
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("DATABASE_URL") and not key.startswith(("SLACK_", "STAGGER_"))
    }
    if database:
        environment["DATABASE_URL"] = DSN
    spec = ["--spec", str(short_spec(tmp_path))] if short else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "rehearse",
            "--keep",
            str(tmp_path / "work"),
            *spec,
            *arguments,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


def test_the_readme_rehearsal_runs_twelve_days_and_declares_success(tmp_path: Path) -> None:
    result = rehearse(tmp_path, database=False, short=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for phase in ("staging-baseline", "staging-stagger", "prod-baseline", "prod-stagger"):
        assert f"*{phase}* started" in out
    assert out.count("KPI checkpoint —") >= 40  # every 6 h for 11 days
    assert "Validation +5 min passed" in out and "Day 7 of prod-stagger" in out
    assert "🎉 *Rollout succeeded.*" in out and "✅ PASSED: `happy`" in out


def test_the_happy_rehearsal_with_a_database_judges_job_durations_too(tmp_path: Path) -> None:
    result = rehearse(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "✅ job_duration_avg change <= -20%" in out
    assert "🎉 *Rollout succeeded.*" in out
    # The command the rehearsal suggests, as printed: its own key, the store, the head.
    suggested = shlex.split(out.rsplit("Audit trail: ", 1)[1].splitlines()[0])
    assignments = dict(word.split("=", 1) for word in suggested[:2])
    assert set(assignments) == {"STAGGER_AUDIT_KEY", "STAGGER_DB"}
    assert suggested[2:6] == ["stagger-bot", "audit", "verify", "--head"]
    assert Path(assignments["STAGGER_DB"]) == tmp_path / "work" / "stagger.db"
    verify = subprocess.run(
        [sys.executable, "-m", "bot.cli", *suggested[3:]],
        env={**os.environ, **assignments},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"it holds the posted head {suggested[6]}" in verify.stdout
    assert "Daily audit head `" in out  # witnessed in the channel each simulated day


def test_an_error_spike_after_prod_stagger_is_rolled_back(tmp_path: Path) -> None:
    result = rehearse(tmp_path, "--scenario", "error-spike")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Rollback of prod verified on all 2 host(s)" in result.stdout


def test_colliding_offsets_fail_validation_and_staging_is_rolled_back(tmp_path: Path) -> None:
    result = rehearse(tmp_path, "--scenario", "collision", database=False)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "No DATABASE_URL: the database KPIs are left out" in out
    assert "Validation +5 min FAILED" in out and "❌ no collision warnings" in out
    assert "Rollback of staging verified on all 1 host(s)" in out


def test_a_down_host_stops_the_move_to_prod_and_says_which(tmp_path: Path) -> None:
    result = rehearse(tmp_path, "--scenario", "host-down", database=False)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "The rollout stays in *staging-stagger*" in out
    assert "sim@prod-2.rehearsal.example.com` — connection timed out" in out


@pytest.mark.parametrize("scenario", ["db-down"])
def test_an_unreachable_database_is_alerted_and_success_withheld(
    tmp_path: Path, scenario: str
) -> None:
    result = rehearse(tmp_path, "--scenario", scenario)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "KPIs unavailable on prod" in out and "database unavailable" in out
    assert "success cannot be declared yet" in out and "Rollout succeeded" not in out


def test_an_unknown_scenario_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    result = rehearse(tmp_path, "--scenario", "meteor", database=False)
    assert result.returncode == 2
    assert "invalid choice: 'meteor'" in result.stderr and "happy" in result.stderr


def test_the_interactive_rehearsal_takes_commands_and_approvals_typed_in(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rehearse", "--interactive", "--speed", "3000",
         "--keep", str(tmp_path / "work")],
        input="status\nadvance\ny\nstatus\nquit\n",
        env={k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "Rollout: *not started*; first phase staging-baseline" in out
    assert "Approve `R" in out and "(transition staging to staging-baseline) as @lead-ana?" in out
    assert "*staging-baseline* started on staging: verified on all 1 host(s)" in out
    assert "Rollout: *staging-baseline* on staging" in out and "Rehearsal ended after" in out
