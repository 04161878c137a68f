"""A replay as it reads: what was replayed first, then each phase's "would have" beside
"actually", times in the spec's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.checks import Check, CheckState
from bot.core.phase_record import PhaseRecord
from bot.core.replay_report import (
    TRIGGER,
    Actual,
    Firing,
    GateReplay,
    Happened,
    PhaseReplay,
    ReplayReport,
)
from bot.render.replay_text import replay_text

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def report_of(*phases: PhaseReplay, zone: str = "UTC") -> ReplayReport:
    return ReplayReport(
        "/srv/stagger.db", "strict.toml", None, zone, 5, 60, "0 */6 * * *",
        START, START + timedelta(days=2), phases, ("prod: the hosts the store recorded, a@b",),
    )  # fmt: skip


def stagger_phase(**fields: object) -> PhaseReplay:
    record = PhaseRecord(2, "prod-stagger", "prod", START)
    defaults: dict[str, object] = {
        "record": record,
        "actual": Actual("running", None, None),
        "end": START + timedelta(hours=30),
        "watched": True,
        "evaluations": 360,
        "gates": GateReplay(4, START + timedelta(hours=30), unmet=()),
    }
    return PhaseReplay(**{**defaults, **fields})  # type: ignore[arg-type]


def test_the_header_says_what_was_replayed_how_and_that_no_host_was_touched() -> None:
    text = replay_text(report_of(stagger_phase()))
    head = text.splitlines()[:7]
    assert head[0] == (
        "Replay of the rollout recorded in /srv/stagger.db through the thresholds and "
        "criteria of strict.toml"
    )
    assert head[1].startswith("Rollout: 2026-03-01 10:00 UTC → 2026-03-03 10:00 UTC (2d)")
    assert "no host was connected to, nothing was posted to Slack" in head[2]
    assert "every 5 min over the last 60 min" in head[3]
    assert "checkpoint slot of `0 */6 * * *` (UTC)" in head[4]
    assert "  • prod: the hosts the store recorded, a@b" in text


def test_times_are_in_the_specs_timezone_and_a_running_phase_says_so() -> None:
    fired = Firing(TRIGGER, "Errors up", "error_rate", START + timedelta(hours=2), "error_rate")
    text = replay_text(report_of(stagger_phase(triggers=(fired,)), zone="Europe/Berlin"))
    assert "prod-stagger (prod): 2026-03-01 11:00 Europe/Berlin → " in text
    assert "(running: replayed up to its last stored event)" in text
    assert "would have fired 2026-03-01 13:00 Europe/Berlin (2h into prod-stagger)" in text
    assert "actually: still running" in text


def test_auto_rollback_and_what_actually_fired_are_told_apart() -> None:
    would = Firing(TRIGGER, "Pool >50", "pool_util_avg", START + timedelta(hours=1), "x")
    did = Happened(TRIGGER, "Errors up", START + timedelta(hours=3), None, "error_rate = 9%")
    text = replay_text(
        report_of(
            stagger_phase(
                triggers=(would,),
                auto_rollback=True,
                actual=Actual("running", None, None, (), (did,)),
            )
        )
    )
    line = next(line for line in text.splitlines() if "'Pool >50'" in line)
    assert "prod would have been rolled back at once (auto_rollback)" in line
    assert line.endswith("— actually: it did not fire")
    assert (
        "actually also: trigger 'Errors up' fired 2026-03-01 13:00 UTC (3h into prod-stagger) "
        "(error_rate = 9%) (not under the other spec)"
    ) in text


def test_unmet_gates_are_listed_each_with_its_line() -> None:
    unmet = (
        Check("minimum duration (7d)", CheckState.NOT_MET, "ran 1d 6h, 5d 18h to go"),
        Check("error_rate change <= 0%", CheckState.INCONCLUSIVE, "needs more runs"),
    )
    phase = stagger_phase(gates=GateReplay(2, START + timedelta(hours=30), unmet=unmet))
    text = replay_text(report_of(phase))
    assert (
        "gates would not all have been met by 2026-03-02 16:00 UTC (1d 6h into prod-stagger)"
        in text
    )
    assert "    ❌ minimum duration (7d): ran 1d 6h, 5d 18h to go" in text
    assert "    ⏳ error_rate change <= 0%: needs more runs" in text
