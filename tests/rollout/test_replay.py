"""The counterfactual replay on a store a real rehearsal recorded: the rollout's events
run through another spec, phase by phase, beside what actually happened — read from a
copy, with no host asked and the store left as it was."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.approvals import ApprovalRequest, Status
from bot.core.errors import ConfigError
from bot.core.replay_report import PhaseReplay, ReplayReport
from bot.render.replay_text import replay_text
from bot.rollout.replay import ALERT_KEY, TRIGGER_KEY, replay_rollout
from bot.rollout.replay_context import NoHosts, NoPosts
from bot.store.breaches import Breaches
from bot.store.store import Store
from bot.store.timeline import Timeline
from jobs import alert_watch
from tests.support.recorded_rollout import RecordedRollout, recorded_rollout

PHASES = ["staging-baseline", "staging-stagger", "prod-baseline", "prod-stagger"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedRollout:
    return recorded_rollout(tmp_path_factory)


def phase_of(report: ReplayReport, name: str) -> PhaseReplay:
    return next(phase for phase in report.phases if phase.record.phase == name)


def test_through_the_spec_it_ran_under_no_trigger_fires_and_the_gates_are_met_as_it_advanced(
    recorded: RecordedRollout,
) -> None:
    report = replay_rollout(recorded.store, recorded.spec)
    assert [phase.record.phase for phase in report.phases] == PHASES
    for phase in report.phases:
        assert phase.triggers == () and phase.actual.triggers == (), phase.record.phase
        assert phase.gates is not None and phase.gates.met_at is not None, phase.gates
        ended = phase.actual.ended_at
        assert ended is not None
        # Met by the time it actually moved on, at most one checkpoint (an hour) before.
        assert ended - timedelta(hours=1) <= phase.gates.met_at <= ended, phase.record.phase
    staging = phase_of(report, "staging-stagger")
    assert staging.watched and staging.evaluations == 42  # every 5 min for 3h 30m
    assert phase_of(report, "staging-baseline").evaluations == 0  # baselines aren't watched
    text = replay_text(report)
    assert text.count("no trigger would have fired — actually: no trigger fired") == 2
    assert "actually: advanced to prod-baseline 2026-02-01 06:05 UTC" in text
    assert "actually: succeeded 2026-02-01 12:00 UTC (4h 25m into prod-stagger)" in text


def test_a_stricter_trigger_would_have_fired_early_in_staging_stagger_where_none_did(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    data = recorded.spec_data()
    data["rollback_triggers"].append(
        {"name": "Pool utilization stays >20", "kpi": "pool_util_avg", "condition": "> 20"}
    )
    report = replay_rollout(recorded.store, recorded.other_spec(tmp_path, data))
    staging = phase_of(report, "staging-stagger")
    fired = {firing.name: firing for firing in staging.triggers}
    start, end = staging.record.started_at, staging.actual.ended_at
    assert end is not None
    assert start < fired["Pool utilization stays >20"].at < end
    text = replay_text(report)
    line = next(line for line in text.splitlines() if "'Pool utilization stays >20'" in line)
    into = re.search(r"would have fired 2026-02-01 (\d\d:\d\d) UTC \((\d+m) into (\S+)\)", line)
    assert into is not None, line
    assert into[3] == "staging-stagger" and "02:35" < into[1] < "06:05"
    assert "a rollback of staging would have been proposed" in line
    assert line.endswith("— actually: no trigger fired")


def test_a_longer_minimum_and_a_tighter_alert_hold_the_gates_naming_each(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    data = recorded.spec_data()
    for phase in data["phases"]:
        if phase["name"] == "staging-stagger":
            phase["min_duration_h"] = 72
    data["kpis"]["pool_util_max"]["alert"] = "> 30"
    report = replay_rollout(recorded.store, recorded.other_spec(tmp_path, data))
    staging = phase_of(report, "staging-stagger")
    assert staging.gates is not None and staging.gates.met_at is None
    unmet = {gate.name: gate.detail for gate in staging.gates.unmet}
    assert unmet["minimum duration (3d)"] == "ran 3h 30m, 2d 20h to go"
    assert unmet["no KPI in alert"] == "in alert: pool_util_max"
    assert [firing.kpi for firing in staging.alerts] == ["pool_util_max"]
    text = replay_text(report)
    assert "❌ minimum duration (3d): ran 3h 30m, 2d 20h to go" in text
    assert "alert 'Pool Utilization (Max)' would have been raised 2026-02-01 " in text
    assert "(alert > 30) — actually: no alert was raised" in text


def test_the_store_is_left_byte_identical_and_no_host_or_channel_is_asked(
    recorded: RecordedRollout,
) -> None:
    before = recorded.store.read_bytes()
    beside = sorted(path.name for path in recorded.store.parent.iterdir())
    transport, poster = NoHosts(), NoPosts()
    replay_rollout(recorded.store, recorded.spec, transport=transport, poster=poster)
    assert recorded.store.read_bytes() == before
    assert sorted(path.name for path in recorded.store.parent.iterdir()) == beside
    assert transport.asked == [] and poster.refused == 0


def test_a_store_in_use_is_read_with_what_its_write_ahead_log_holds_and_left_as_it_was(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    path = tmp_path / "live.db"
    shutil.copyfile(recorded.store, path)
    live = Store(path)  # a bot's connection, left open: the WAL is not checkpointed
    staging = next(r for r in Timeline(live).history() if r.phase == "staging-stagger")
    fired_at = staging.started_at + timedelta(hours=1)
    Breaches(live).open(
        "staging", TRIGGER_KEY + "Pool utilization stays >70%", fired_at, "pool_util_avg = 75"
    )
    live.add_request(
        ApprovalRequest(
            "RBACK1", "rollback", "staging", {}, "U0OPS1", "pool at 75%", fired_at,
            fired_at + timedelta(minutes=30), 1, Status.SUCCEEDED, ("U0LEAD1",),
            "U0LEAD1", fired_at + timedelta(minutes=2), outcome="verified on all 1 host(s)",
        )
    )  # fmt: skip
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    files = (path.read_bytes(), wal.read_bytes())
    report = replay_rollout(path, recorded.spec)
    assert (path.read_bytes(), wal.read_bytes()) == files
    replayed = phase_of(report, "staging-stagger")
    assert [happened.name for happened in replayed.actual.triggers] == [
        "Pool utilization stays >70%"
    ]
    assert [request.id for request in replayed.actual.rollbacks] == ["RBACK1"]
    text = replay_text(report)
    assert (
        "no trigger would have fired — actually: trigger 'Pool utilization stays >70%' fired "
        "2026-02-01 03:35 UTC (1h into staging-stagger)"
    ) in text
    rollbacks = next(line for line in text.splitlines() if "RBACK1" in line)
    assert rollbacks.startswith(
        "  rollbacks: `RBACK1` asked 2026-02-01 03:35 UTC (1h into staging-stagger), succeeded"
    )


def test_a_phase_the_other_spec_lacks_is_listed_and_skipped(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    data = recorded.spec_data()
    for phase in data["phases"]:
        if phase["name"] == "prod-baseline":
            phase["name"] = "prod-warmup"
    report = replay_rollout(recorded.store, recorded.other_spec(tmp_path, data))
    skipped = phase_of(report, "prod-baseline")
    assert skipped.skipped == "the other spec has no such phase" and skipped.gates is None
    assert phase_of(report, "prod-stagger").gates is not None
    assert (
        "  not replayed: the other spec has no such phase — actually: advanced to prod-stagger"
    ) in replay_text(report)


def test_one_env_is_replayed_alone(recorded: RecordedRollout) -> None:
    report = replay_rollout(recorded.store, recorded.spec, "prod")
    assert [phase.record.phase for phase in report.phases] == ["prod-baseline", "prod-stagger"]
    assert all(note.startswith("prod:") for note in report.notes)
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        replay_rollout(recorded.store, recorded.spec, "qa")


def test_a_missing_store_or_one_with_no_rollout_is_refused(
    recorded: RecordedRollout, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no store at"):
        replay_rollout(tmp_path / "nope.db", recorded.spec)
    assert not (tmp_path / "nope.db").exists()
    Store(tmp_path / "empty.db")
    with pytest.raises(ConfigError, match="holds no rollout"):
        replay_rollout(tmp_path / "empty.db", recorded.spec)


def test_the_breach_keys_are_the_alert_watchs() -> None:
    assert (TRIGGER_KEY, ALERT_KEY) == (alert_watch.PREFIX, alert_watch.KPI_PREFIX)
