"""The rollout state machine and its gates: pure functions over the spec, the timeline's
current record, the KPIs and the clock.

The phases run in the spec's order. Leaving a phase needs its gates met: the minimum
duration elapsed, each success criterion met, no KPI in alert (stagger phases), nothing
else in flight.
`--force` may skip unmet gates (and a phase out of order) at the price of one more
approval; after a rollback every move is forced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.core.approvals import ApprovalRequest
from bot.core.checks import Check as Gate
from bot.core.checks import CheckState as GateState
from bot.core.checks import all_met, checks_text
from bot.core.clock import describe_duration
from bot.core.kpi_report import format_rate, format_value
from bot.core.phase_record import ROLLED_BACK, SUCCEEDED, PhaseRecord
from bot.core.spec import Spec
from bot.core.spec_rollout import PhaseSpec
from bot.core.thresholds import (
    Comparison,
    Condition,
    Judgement,
    Measurement,
    Undecided,
    Verdict,
    compare,
    holds,
)


def position(current: PhaseRecord | None) -> str:
    return current.phase if current else "not started"


def next_phase(spec: Spec, current: PhaseRecord | None) -> PhaseSpec | None:
    """The phase after the current one; None at the end or after a rollback or success."""
    if current is None:
        return spec.phases[0] if spec.phases else None
    if current.is_terminal:
        return None
    names = [phase.name for phase in spec.phases]
    if current.phase not in names:
        return None
    index = names.index(current.phase) + 1
    return spec.phases[index] if index < len(spec.phases) else None


def order_problem(spec: Spec, current: PhaseRecord | None, target: PhaseSpec) -> str | None:
    """Why moving to `target` now is out of order (None if it is the next phase)."""
    if current is not None and current.phase == SUCCEEDED:
        return "the rollout has succeeded; there is nothing to move to"
    if current is not None and current.phase == ROLLED_BACK:
        return "the rollout was rolled back; resuming it is a forced move"
    if current is not None and current.phase == target.name:
        return f"{target.name} is the current phase"
    expected = next_phase(spec, current)
    if expected is None:
        return f"{position(current)} is the last phase"
    if expected.name != target.name:
        return f"the next phase is {expected.name}, not {target.name}"
    return None


def duration_gate(phase: PhaseSpec, current: PhaseRecord, now: datetime) -> Gate:
    elapsed = current.elapsed(now)
    minimum = timedelta(hours=phase.min_duration_h)
    name = f"minimum duration ({describe_duration(minimum)})"
    if elapsed < minimum:
        return Gate(
            name,
            GateState.NOT_MET,
            f"ran {describe_duration(elapsed)}, {describe_duration(minimum - elapsed)} to go",
        )
    detail = f"ran {describe_duration(elapsed)}"
    if phase.max_duration_h is not None and elapsed > timedelta(hours=phase.max_duration_h):
        detail += f", past its {describe_duration(timedelta(hours=phase.max_duration_h))} maximum"
    return Gate(name, GateState.MET, detail)


def criteria_gates(phase: PhaseSpec, measurements: Mapping[str, Measurement]) -> list[Gate]:
    gates = []
    for kpi, criterion in phase.success.items():
        condition = criterion.condition
        measurement = measurements.get(kpi, Measurement(None, reason="not measured"))
        parsed = Condition.parse(condition)
        decided = holds(parsed, measurement)
        name = f"{kpi} {condition}"
        if isinstance(decided, Undecided):
            state = GateState.NOT_JUDGED if decided.too_few else GateState.UNKNOWN
            detail = f"too few events to compare: {decided.reason}" if decided.too_few else ""
            gates.append(Gate(name, state, detail or decided.reason))
            continue
        value = format_value(measurement.value)
        comparison = compare(measurement) if parsed.relative else None
        if isinstance(comparison, Comparison) and comparison.per_hour:
            value = (
                f"{format_rate(comparison.now)} (baseline {format_rate(comparison.baseline)}), "
                f"{comparison.change_pct:+.1f}% per hour"
            )
        elif parsed.relative and measurement.baseline is not None:
            value += f" (baseline {format_value(measurement.baseline)})"
        gates.append(Gate(name, GateState.MET if decided else GateState.NOT_MET, f"now {value}"))
    return gates


def alert_gate(judgements: Sequence[Judgement]) -> Gate:
    """A dry-run KPI in alert holds nothing back; the gate names it all the same."""
    in_alert = [judgement for judgement in judgements if judgement.verdict is Verdict.ALERT]
    alerting = [judgement.kpi for judgement in in_alert if not judgement.dry_run]
    trial = [judgement.kpi for judgement in in_alert if judgement.dry_run]
    dry_run = f"; dry run: {', '.join(trial)} in alert" if trial else ""
    if alerting:
        return Gate(
            "no KPI in alert", GateState.NOT_MET, "in alert: " + ", ".join(alerting) + dry_run
        )
    return Gate("no KPI in alert", GateState.MET, "none" + dry_run)


def in_flight_gate(open_requests: Sequence[ApprovalRequest]) -> Gate:
    if open_requests:
        listed = ", ".join(
            f"`{request.id}` {request.description} ({request.status.value})"
            for request in open_requests
        )
        return Gate("nothing else in flight", GateState.NOT_MET, listed)
    return Gate("nothing else in flight", GateState.MET, "no open request")


def leaving_gates(
    spec: Spec,
    current: PhaseRecord | None,
    now: datetime,
    measurements: Mapping[str, Measurement],
    judgements: Sequence[Judgement],
    open_requests: Sequence[ApprovalRequest],
    criteria: Sequence[Gate] | None = None,
) -> list[Gate]:
    """Every gate on leaving the current phase (only `in flight` before the first).

    The KPI table's alerts describe the stagger's effect, so they gate stagger phases; a
    baseline phase is there to measure the "before", alerts and all. `criteria`: the
    success criteria's gates as the judge decided them (`bot.rollout.judging`); without
    them, each is compared as measured."""
    gates = [in_flight_gate(open_requests)]
    phase = spec.phase(current.phase) if current else None
    if current is None or phase is None:
        return gates
    alerts = [alert_gate(judgements)] if phase.stagger else []
    return [
        duration_gate(phase, current, now),
        *(criteria if criteria is not None else criteria_gates(phase, measurements)),
        *alerts,
        *gates,
    ]


def gates_text(gates: Sequence[Gate]) -> str:
    return checks_text(gates)


__all__ = ["Gate", "GateState", "all_met", "gates_text"]
