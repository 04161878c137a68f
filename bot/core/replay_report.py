"""What a counterfactual replay found: a recorded rollout's stored events run through
another spec's thresholds and criteria, phase by phase, beside what actually happened.
Plain data: `bot.rollout.replay` makes it, `bot.render.replay_text` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.approvals import ApprovalRequest
from bot.core.checks import Check
from bot.core.phase_record import PhaseRecord

ALERT, TRIGGER = "alert", "trigger"


@dataclass(frozen=True)
class Firing:
    """The first evaluation at which a KPI would have been in alert (`kind` ALERT, `name`
    its label) or a rollback trigger would have fired (TRIGGER, the trigger's name)."""

    kind: str
    name: str
    kpi: str
    at: datetime
    detail: str


@dataclass(frozen=True)
class GateReplay:
    """The leaving gates looked at each checkpoint slot after the minimum duration, and at
    the phase's end. `met_at`: the first look at which all were met (`at_slot`: it was a
    checkpoint slot, not the end); otherwise `unmet` holds the gates not met at the last."""

    looks: int
    last_look: datetime
    met_at: datetime | None = None
    at_slot: bool = False
    unmet: tuple[Check, ...] = ()


@dataclass(frozen=True)
class Happened:
    """A breach the bot actually opened in the phase: an alert or a trigger."""

    kind: str
    name: str
    opened_at: datetime
    closed_at: datetime | None
    detail: str


@dataclass(frozen=True)
class Actual:
    """How the phase actually ended (`how`: advanced, forced, rolled back, succeeded, or
    running), into what, and what the bot opened and was asked for in it."""

    how: str
    ended_at: datetime | None
    next_phase: str | None
    alerts: tuple[Happened, ...] = ()
    triggers: tuple[Happened, ...] = ()
    rollbacks: tuple[ApprovalRequest, ...] = ()


@dataclass(frozen=True)
class PhaseReplay:
    """One recorded phase under the other spec. `skipped`: why it was not replayed (the
    other spec has no such phase); then only `actual` is filled in. `end`: where the
    replay of it stopped (its end, or the last stored event of a running one).
    `watched`: a stagger phase, whose alerts and triggers the bot evaluates."""

    record: PhaseRecord
    actual: Actual
    end: datetime
    skipped: str = ""
    watched: bool = False
    evaluations: int = 0
    alerts: tuple[Firing, ...] = ()
    triggers: tuple[Firing, ...] = ()
    auto_rollback: bool = False
    gates: GateReplay | None = None
    # KPI -> why it had no value in the replay (the first reason seen).
    unavailable: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReplayReport:
    """The whole replay: what was replayed (the store, the spec, the rollout's span, the
    env asked for), the other spec's cadences, each phase, and notes on what was read."""

    store: str
    spec: str
    env: str | None
    timezone: str
    every_min: int
    window_min: int
    cron: str
    started_at: datetime
    ended_at: datetime
    phases: tuple[PhaseReplay, ...]
    notes: tuple[str, ...] = ()
