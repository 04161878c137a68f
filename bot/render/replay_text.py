"""A replay as a person reads it in a terminal: what was replayed and how, then phase by
phase what would have happened under the other spec beside what actually did. Pure."""

from __future__ import annotations

from datetime import datetime

from bot.core.approvals import ApprovalRequest
from bot.core.checks import Check, CheckState
from bot.core.clock import describe_duration, format_time
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

_MARKS = {
    CheckState.MET: "✅",
    CheckState.NOT_MET: "❌",
    CheckState.UNKNOWN: "❔",
    CheckState.NOT_JUDGED: "➖",
    CheckState.INCONCLUSIVE: "⏳",
    CheckState.DRY_RUN: "🧪",
}


def replay_text(report: ReplayReport) -> str:
    return "\n".join([*_header(report), *(_phase(report, phase) for phase in report.phases)])


def _header(report: ReplayReport) -> list[str]:
    zone = report.timezone
    replayed = [phase for phase in report.phases if not phase.skipped]
    of_env = f" of {report.env}" if report.env else ""
    lines = [
        f"Replay of the rollout recorded in {report.store} through the thresholds and "
        f"criteria of {report.spec}",
        f"Rollout: {format_time(report.started_at, zone)} → {format_time(report.ended_at, zone)} "
        f"({describe_duration(report.ended_at - report.started_at)}); "
        f"{len(replayed)} phase(s){of_env} replayed.",
        "Read from a copy of the store's events: no host was connected to, nothing was "
        "posted to Slack, no database was read, and the store was not written.",
        f"Alerts and triggers: every {report.every_min} min over the last "
        f"{report.window_min} min, in stagger phases only (the ones the bot watches).",
        f"Gates: at each checkpoint slot of `{report.cron}` ({zone}) once the phase's minimum "
        "duration has passed, and at its end, over the phase so far, with no request open.",
    ]
    if report.notes:
        lines.append("Read as recorded:")
        lines.extend(f"  • {note}" for note in report.notes)
    if not report.phases:
        lines.append(f"\nNo phase{of_env} in the recorded rollout.")
    return lines


def _phase(report: ReplayReport, phase: PhaseReplay) -> str:
    zone, record = report.timezone, phase.record
    running = " (running: replayed up to its last stored event)" if record.ended_at is None else ""
    lines = [
        "",
        f"{record.phase} ({record.env}): {format_time(record.started_at, zone)} → "
        f"{format_time(phase.end, zone)} ({describe_duration(phase.end - record.started_at)})"
        f"{running}",
    ]
    ended = _ended(report, phase)
    if phase.skipped:
        lines.append(f"  not replayed: {phase.skipped} — actually: {ended}")
        return "\n".join(lines)
    lines.extend(_watched(report, phase))
    if phase.gates is not None:
        lines.extend(_gates(report, phase, phase.gates, ended))
    if phase.unavailable:
        listed = "; ".join(f"{kpi} ({reason})" for kpi, reason in phase.unavailable)
        lines.append(f"  unavailable in the replay: {listed}")
    lines.append(f"  rollbacks: {_rollbacks(report, phase)}")
    return "\n".join(lines)


def _into(report: ReplayReport, phase: PhaseReplay, moment: datetime) -> str:
    record = phase.record
    into = describe_duration(moment - record.started_at)
    return f"{format_time(moment, report.timezone)} ({into} into {record.phase})"


def _ended(report: ReplayReport, phase: PhaseReplay) -> str:
    actual = phase.actual
    if actual.ended_at is None:
        return "still running"
    at = _into(report, phase, actual.ended_at)
    if actual.how in ("advanced", "forced") and actual.next_phase:
        return f"{actual.how} to {actual.next_phase} {at}"
    return f"{actual.how} {at}"


def _watched(report: ReplayReport, phase: PhaseReplay) -> list[str]:
    if not phase.watched:
        return ["  alerts and triggers: not evaluated (the bot watches stagger phases only)"]
    actual = phase.actual
    lines = [f"  {phase.evaluations} evaluation(s) of the alerts and triggers"]
    lines.extend(_firings(report, phase, phase.alerts, actual.alerts, ALERT))
    lines.extend(_firings(report, phase, phase.triggers, actual.triggers, TRIGGER))
    return lines


def _firings(
    report: ReplayReport,
    phase: PhaseReplay,
    would: tuple[Firing, ...],
    did: tuple[Happened, ...],
    kind: str,
) -> list[str]:
    none = "no alert was raised" if kind == ALERT else "no trigger fired"
    by_name = {happened.name: happened for happened in did}
    lines = []
    for firing in would:
        verb = "have been raised" if kind == ALERT else "have fired"
        happened = by_name.get(_key(firing))
        if happened is not None:
            actually = f"it {_did(kind)} {_into(report, phase, happened.opened_at)}"
        elif did:  # others happened: listed below
            actually = "it was not raised" if kind == ALERT else "it did not fire"
        else:
            actually = none
        consequence = ""
        if kind == TRIGGER:
            consequence = (
                f"; {phase.record.env} would have been rolled back at once (auto_rollback)"
                if phase.auto_rollback
                else f"; a rollback of {phase.record.env} would have been proposed"
            )
        lines.append(
            f"  {kind} '{firing.name}' would {verb} {_into(report, phase, firing.at)}: "
            f"{firing.detail}{consequence} — actually: {actually}"
        )
    if not would:
        nothing = (
            "no KPI would have been in alert" if kind == ALERT else "no trigger would have fired"
        )
        lines.append(f"  {nothing} — actually: {_listed(report, phase, did, kind) or none}")
        return lines
    kept = {_key(firing) for firing in would}
    others = [happened for happened in did if happened.name not in kept]
    if others:
        lines.append(
            f"  actually also: {_listed(report, phase, tuple(others), kind)} "
            "(not under the other spec)"
        )
    return lines


def _key(firing: Firing) -> str:
    """What the bot's breach is named after: the KPI of an alert, a trigger's name."""
    return firing.kpi if firing.kind == ALERT else firing.name


def _did(kind: str) -> str:
    return "was raised" if kind == ALERT else "fired"


def _listed(report: ReplayReport, phase: PhaseReplay, did: tuple[Happened, ...], kind: str) -> str:
    return "; ".join(
        f"{kind} '{happened.name}' {_did(kind)} {_into(report, phase, happened.opened_at)}"
        + (f" ({happened.detail})" if happened.detail else "")
        for happened in did
    )


def _gates(report: ReplayReport, phase: PhaseReplay, gates: GateReplay, ended: str) -> list[str]:
    looks = f"{gates.looks} look" + ("s" if gates.looks != 1 else "")
    if gates.met_at is not None:
        if gates.at_slot:
            where = "at a checkpoint slot"
        elif gates.looks == 1:
            where = "at its end (no checkpoint slot fell after its minimum duration)"
        else:
            where = "at its end (at no checkpoint slot before)"
        return [
            f"  gates would all have been met first {_into(report, phase, gates.met_at)}, "
            f"{where}, {looks} — actually: {ended}"
        ]
    lines = [
        f"  gates would not all have been met by {_into(report, phase, gates.last_look)}, "
        f"{looks}; unmet at the last — actually: {ended}"
    ]
    lines.extend(f"    {_gate_line(gate)}" for gate in gates.unmet)
    return lines


def _gate_line(gate: Check) -> str:
    return f"{_MARKS.get(gate.state, '•')} {gate.name}: {gate.detail}"


def _rollbacks(report: ReplayReport, phase: PhaseReplay) -> str:
    actual: Actual = phase.actual
    if not actual.rollbacks:
        return "none actually asked for"
    return "; ".join(_rollback(report, phase, request) for request in actual.rollbacks)


def _rollback(report: ReplayReport, phase: PhaseReplay, request: ApprovalRequest) -> str:
    text = (
        f"`{request.id}` asked {_into(report, phase, request.created_at)}, {request.status.value}"
    )
    if request.decided_at is not None:
        text += f" {format_time(request.decided_at, report.timezone)}"
    if request.outcome:
        text += f" ({request.outcome})"
    return text + (f": {request.reason}" if request.reason else "")
