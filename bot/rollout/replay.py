"""The counterfactual replay: a recorded rollout's stored events run through another
spec's thresholds and criteria, phase by phase, beside what actually happened.

For each phase of the recorded timeline (found in the other spec by name):
- in a stagger phase (the only ones the bot watches), every `alerts.every_min` from its
  start to its end, the KPIs over the last `alerts.window_min`: the first time each KPI
  would have been in alert, and each rollback trigger would have fired;
- at each checkpoint slot of the other spec's cron once its minimum duration is past,
  and at its end, the leaving gates over the phase so far (no open request): the first
  look at which all would have been met, or the gates still unmet at the last;
- what actually happened: how and when it ended, the alerts and triggers the bot
  opened, the rollbacks asked for.

Everything is read from a copy of the store: no host, Slack or database is touched, and
the store named is never written."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from bot.core.checks import all_met
from bot.core.clock import ManualClock
from bot.core.errors import ConfigError
from bot.core.kpi_report import KpiReport, format_value
from bot.core.phase_record import PhaseRecord
from bot.core.ports import Poster, Transport
from bot.core.replay_report import (
    ALERT,
    TRIGGER,
    Actual,
    Firing,
    GateReplay,
    Happened,
    PhaseReplay,
    ReplayReport,
)
from bot.core.spec import load_spec
from bot.core.spec_rollout import PhaseSpec
from bot.core.thresholds import FiredTrigger, Judgement, Verdict, fired_triggers
from bot.rollout.context import BotContext
from bot.rollout.judging import phase_gates
from bot.rollout.measuring import stored_report
from bot.rollout.replay_context import (
    BaselinesAsOf,
    NoHosts,
    NoPosts,
    as_recorded,
    recorded_hosts,
    replay_context,
    set_stagger,
    store_copy,
)
from bot.store.breaches import Breach, Breaches
from bot.store.checkpoints import slots_between
from bot.store.event_log import EventLog
from bot.store.store import Store, request_from_row
from bot.store.timeline import Timeline

# The breach keys jobs.alert_watch opens (its PREFIX and KPI_PREFIX): jobs sit above
# this layer, so they are named here too (a test holds them equal).
TRIGGER_KEY, ALERT_KEY = "trigger:", "kpi:"
_MINUTE = timedelta(minutes=1)


class _Replayer:
    def __init__(self, context: BotContext, clock: ManualClock, baselines: BaselinesAsOf) -> None:
        self.context, self.clock, self.baselines = context, clock, baselines
        self.unavailable: dict[str, str] = {}

    def report(self, env: str, start: datetime, moment: datetime) -> KpiReport:
        """The KPIs of [start, moment) as the bot would have measured them at `moment`."""
        self.clock.set(moment)
        self.baselines.show(moment)
        report = stored_report(self.context, env, start, max(moment, start + _MINUTE))
        for judgement in report.judgements:
            if judgement.verdict is Verdict.UNAVAILABLE and not judgement.dry_run:
                self.unavailable.setdefault(judgement.kpi, judgement.reason)
        return report

    def watch(self, record: PhaseRecord, end: datetime) -> tuple[list[Firing], list[Firing], int]:
        """The first alert of each KPI and the first firing of each trigger; how many
        evaluations were made."""
        spec = self.context.spec
        every = timedelta(minutes=spec.alerts.every_min)
        longest = timedelta(minutes=spec.alerts.window_min)
        alerts: dict[str, Firing] = {}
        triggers: dict[str, Firing] = {}
        moment, evaluations = record.started_at + every, 0
        while moment <= end:
            window = min(longest, moment - record.started_at)
            report = self.report(record.env, moment - window, moment)
            evaluations += 1
            for judgement in report.judgements:
                if judgement.verdict is Verdict.ALERT and not judgement.dry_run:
                    alerts.setdefault(judgement.kpi, self._alert(judgement, moment))
            for fired in fired_triggers(spec.rollback_triggers, report.measurements, spec.kpis):
                triggers.setdefault(fired.name, self._trigger(fired, moment))
            moment += every
        return list(alerts.values()), list(triggers.values()), evaluations

    def gates(self, phase: PhaseSpec, record: PhaseRecord, end: datetime) -> GateReplay:
        spec = self.context.spec
        minimum = record.started_at + timedelta(hours=phase.min_duration_h)
        slots = [
            slot
            for slot in slots_between(
                spec.checkpoints.cron, spec.timezone, minimum - timedelta(seconds=1), end
            )
            if slot > record.started_at
        ]
        looks = slots if slots and slots[-1] == end else [*slots, end]
        gates = []
        for look in looks:
            report = self.report(record.env, record.started_at, look)
            gates = phase_gates(self.context, record, report, [])
            if all_met(gates):
                return GateReplay(len(looks), look, met_at=look, at_slot=look in slots)
        unmet = tuple(gate for gate in gates if not all_met([gate]))
        return GateReplay(len(looks), looks[-1], unmet=unmet)

    def _alert(self, judgement: Judgement, moment: datetime) -> Firing:
        kpi = self.context.spec.kpis[judgement.kpi]
        detail = f"{judgement.kpi} = {format_value(judgement.value, kpi.unit)}"
        if judgement.relative and judgement.change_pct is not None:
            detail += f", {judgement.change_pct:+.1f}% against the baseline"
        return Firing(ALERT, kpi.label, judgement.kpi, moment, f"{detail} (alert {kpi.alert})")

    def _trigger(self, fired: FiredTrigger, moment: datetime) -> Firing:
        kpi = self.context.spec.kpis.get(fired.kpi)
        value = format_value(fired.value, kpi.unit if kpi else "")
        detail = f"{fired.kpi} = {value} (threshold {fired.condition})"
        return Firing(TRIGGER, fired.name, fired.kpi, moment, detail)


def replay_rollout(
    store_path: Path,
    spec_path: Path,
    env: str | None = None,
    *,
    transport: Transport | None = None,
    poster: Poster | None = None,
) -> ReplayReport:
    """Replay the rollout the store at `store_path` recorded through the spec at
    `spec_path` (of `env` only, if named). SpecError for a bad spec, ConfigError for a
    missing or unreadable store, one with no rollout, or an env the spec doesn't name."""
    other = load_spec(spec_path)
    if env is not None and env not in other.environments:
        known = ", ".join(other.environments)
        raise ConfigError(f"unknown environment {env!r} in {spec_path} (known: {known})")
    with store_copy(store_path) as store:
        records = Timeline(store).history()
        if not records:
            raise ConfigError(f"the store at {store_path} holds no rollout: no phase started")
        spec, notes_by_env = as_recorded(other, store)
        ran = {record.env for record in records}
        notes = [
            note
            for name, said in notes_by_env.items()
            if name in ran and (env is None or name == env)
            for note in said
        ]
        clock = ManualClock(records[0].started_at)
        context = replay_context(spec, store, clock, transport or NoHosts(), poster or NoPosts())
        replayer = _Replayer(context, clock, BaselinesAsOf(store))
        phases = [
            _replay_phase(
                replayer, record, records[index + 1] if index + 1 < len(records) else None
            )
            for index, record in enumerate(records)
            if not record.is_terminal and (env is None or record.env == env)
        ]
        ended_at = _span_end(store, records[-1])
    return ReplayReport(
        str(store_path), str(spec_path), env, other.timezone, other.alerts.every_min,
        other.alerts.window_min, other.checkpoints.cron, records[0].started_at, ended_at,
        tuple(phases), tuple(notes),
    )  # fmt: skip


def _replay_phase(
    replayer: _Replayer, record: PhaseRecord, following: PhaseRecord | None
) -> PhaseReplay:
    context = replayer.context
    actual = _actual(context.store, record, following)
    end = record.ended_at or _last_event(context.store, record.env) or record.started_at
    phase = context.spec.phase(record.phase)
    if phase is None:
        return PhaseReplay(record, actual, end, skipped="the other spec has no such phase")
    if phase.env != record.env:
        skipped = f"the other spec runs it on {phase.env}, the rollout ran it on {record.env}"
        return PhaseReplay(record, actual, end, skipped=skipped)
    set_stagger(context.store, record.env, phase.stagger)
    running = replace(record, ended_at=None, ended_how="")
    replayer.unavailable = {}
    alerts, triggers, evaluations = replayer.watch(running, end) if phase.stagger else ([], [], 0)
    gates = replayer.gates(phase, running, end)
    return PhaseReplay(
        record, actual, end, watched=phase.stagger, evaluations=evaluations,
        alerts=tuple(alerts), triggers=tuple(triggers),
        auto_rollback=context.spec.environments[record.env].auto_rollback, gates=gates,
        unavailable=tuple(sorted(replayer.unavailable.items())),
    )  # fmt: skip


def _actual(store: Store, record: PhaseRecord, following: PhaseRecord | None) -> Actual:
    end = record.ended_at
    breaches = Breaches(store)

    def happened(kind: str, prefix: str) -> tuple[Happened, ...]:
        opened = breaches.opened_since(record.env, record.started_at, prefix)
        return tuple(
            _happened(kind, breach, prefix)
            for breach in opened
            if end is None or breach.opened_at < end
        )

    rows = store.select(
        "approvals", "action = 'rollback' AND env = ?", [record.env], order_by="created_at"
    )
    rollbacks = tuple(
        request
        for request in map(request_from_row, rows)
        if request.created_at >= record.started_at and (end is None or request.created_at < end)
    )
    return Actual(
        record.ended_how or ("running" if end is None else "ended"),
        end,
        following.phase if following else None,
        happened(ALERT, ALERT_KEY),
        happened(TRIGGER, TRIGGER_KEY),
        rollbacks,
    )


def _happened(kind: str, breach: Breach, prefix: str) -> Happened:
    return Happened(
        kind, breach.key.removeprefix(prefix), breach.opened_at, breach.closed_at, breach.detail
    )


def _last_event(store: Store, env: str) -> datetime | None:
    events = EventLog(store)
    moments = [m for host in recorded_hosts(store, env) if (m := events.latest(env, host))]
    return max(moments) if moments else None


def _span_end(store: Store, last: PhaseRecord) -> datetime:
    """Where the rollout ends: at its terminal record, or its last phase's end, or (still
    running) its last stored event."""
    if last.is_terminal:
        return last.started_at
    return last.ended_at or _last_event(store, last.env) or last.started_at
