"""Executing an approved phase transition: re-check the gates, run the new phase's entry
action on every host (set the flag, reload, see the confirmation line), and move the
rollout only when every host verified.

Leaving a baseline phase stores its KPI snapshot as the env's baseline. Entering a
stagger phase schedules the first-30-minute validation checks. A host that fails leaves
the rollout in its previous phase, says so, and offers a rollback.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.baseline import Baseline
from bot.core.changes import ChangeOutcome, FlagChange
from bot.core.kpi_report import KpiReport
from bot.core.phase_record import Entry, PhaseRecord
from bot.core.phases import all_met, gates_text
from bot.core.spec_rollout import PhaseSpec
from bot.render import blocks
from bot.render.audit_head import with_audit_head
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import finish_execution
from bot.rollout.judging import phase_gates
from bot.rollout.measuring import measure_since
from bot.rollout.phase_thread import open_phase_thread
from bot.rollout.request_change import apply_for_request
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry
from bot.store.baselines import Baselines, snapshot
from bot.store.check_schedule import CheckSchedule
from bot.store.store import EnvState
from bot.store.timeline import Timeline

logger = logging.getLogger(__name__)


class TransitionRunner:
    def __init__(self, context: BotContext) -> None:
        self.context = context
        self.timeline = Timeline(context.store)

    def execute(self, request_id: str) -> ChangeOutcome | None:
        context = self.context
        request = context.store.request(request_id)
        if request is None or request.status is not Status.EXECUTING:
            return None
        target = context.spec.phase(request.args.get("phase", ""))
        if target is None:
            self._fail(request, "the phase is no longer in the spec; nothing was changed")
            return None
        current = self.timeline.current()
        if (str(current.id) if current else "") != request.args.get("from_id", ""):
            self._fail(request, "the rollout moved on since the request; nothing changed")
            return None
        leaving = context.spec.phase(current.phase) if current else None
        report = measure_since(context, current.env, current.started_at) if current else None
        if not request.forced and current is not None and report is not None:
            others = [r for r in context.store.open_requests(current.env) if r.id != request.id]
            gates = phase_gates(context, current, report, others)
            if not all_met(gates):
                why = "the gates are no longer met; nothing was changed\n" + gates_text(gates)
                self._fail(request, why)
                return None
        outcome = self._apply(request, target)
        if not outcome.verified:
            self._report_failure(request, target, current, outcome)
            return outcome
        now = context.clock.now()
        if leaving is not None and not leaving.stagger and report is not None and current:
            self._capture_baseline(current, report)
        entered = self.timeline.enter(
            Entry(
                target.name,
                target.env,
                now,
                "forced" if request.forced else "advanced",
                request.id,
                request.approved_by,
                request.forced,
                request.reason,
            ),
            expected_current=current.id if current else None,
        )
        if target.stagger:
            self._schedule_validation(entered, request.message_ts, now)
        self._succeed(request, target, outcome, now)
        return outcome

    def _apply(self, request: ApprovalRequest, target: PhaseSpec) -> ChangeOutcome:
        context = self.context
        flag = context.spec.flag
        environment = context.spec.environments[target.env]
        change = (
            FlagChange(flag.name, "true", flag.enabled_line)
            if target.stagger
            else FlagChange(flag.name, "false", flag.disabled_line)
        )
        context.poster.post(
            context.spec.channel,
            f":gear: Entering {target.name} on {len(environment.hosts)} host(s) of "
            f"{target.env}: setting `{change.key}={change.value}`, reloading, waiting for "
            f"'{change.confirm_line}'.",
            thread_ts=request.message_ts,
        )
        context.record(
            AuditEntry(
                "bot", "bot", "transition.started", request.env,
                {"request": request.id, "phase": target.name, "forced": request.forced},
                "ok", f"approved by {', '.join(request.approved_by) or 'policy'}",
            )
        )  # fmt: skip
        return apply_for_request(context, request, environment, change)

    def _capture_baseline(self, leaving: PhaseRecord, report: KpiReport) -> None:
        values = snapshot(report.measurements)
        start, end = report.rated_window
        Baselines(self.context.store).save(
            Baseline(
                leaving.env,
                self.context.clock.now(),
                start,
                end,
                f"phase {leaving.phase}",
                values,
            )
        )
        self.context.record(
            AuditEntry(
                "bot", "bot", "baseline.captured", leaving.env,
                {"phase": leaving.phase, "kpis": len(values)}, "ok",
                f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC",
            )
        )  # fmt: skip

    def _schedule_validation(self, entered: PhaseRecord, thread: str | None, now: datetime) -> None:
        minutes = self.context.spec.validation.checks_after_min
        CheckSchedule(self.context.store).schedule(
            entered.env,
            entered.id,
            thread,
            [(f"+{m} min", now + timedelta(minutes=m)) for m in minutes],
        )

    def _succeed(
        self, request: ApprovalRequest, target: PhaseSpec, outcome: ChangeOutcome, now: datetime
    ) -> None:
        context = self.context
        summary = f"verified on all {len(outcome.hosts)} host(s)"
        finish_execution(
            context,
            request,
            Status.SUCCEEDED,
            summary,
            lambda previous: EnvState(
                target.env, target.name, target.stagger, now, previous.disabled_jobs
            ),
        )
        self._audit_finished(request, target, outcome)
        open_phase_thread(context, self.timeline.current(), outcome)
        refresh_request_message(
            context, replace(request, status=Status.SUCCEEDED), f"{target.name} started; {summary}."
        )

    def _report_failure(
        self,
        request: ApprovalRequest,
        target: PhaseSpec,
        current: PhaseRecord | None,
        outcome: ChangeOutcome,
    ) -> None:
        context = self.context
        failed = outcome.failed_hosts
        summary = f"FAILED on {len(failed)} of {len(outcome.hosts)} host(s)"
        hosts = ", ".join(host.host for host in failed)
        finish_execution(
            context,
            request,
            Status.FAILED,
            summary,
            lambda state: replace(
                state,
                stagger_enabled=None,
                note=f"transition {request.id} to {target.name} failed on {hosts}; "
                "hosts may differ",
            ),
        )
        self._audit_finished(request, target, outcome)
        stays = current.phase if current else "not started"
        title = (
            f":x: *Entering {target.name} {summary}.* The rollout stays in *{stays}*; "
            f"the hosts below are not confirmed, so {target.env} may run mixed settings. "
            f"Roll back with `/stagger rollback {target.env}` or the button."
        )
        text = with_audit_head(blocks.outcome_text(title, outcome), context.audit.head())
        context.poster.post(
            context.spec.channel,
            text,
            blocks.rollback_offer_blocks(text, target.env),
            thread_ts=request.message_ts,
            broadcast=True,
        )
        refresh_request_message(
            context, replace(request, status=Status.FAILED), f"Transition {summary}."
        )

    def _audit_finished(
        self, request: ApprovalRequest, target: PhaseSpec, outcome: ChangeOutcome
    ) -> None:
        self.context.record(
            AuditEntry(
                "bot", "bot", "transition.finished", request.env,
                {"request": request.id, "phase": target.name,
                 "hosts": {host.host: host.verified for host in outcome.hosts}},
                "ok" if outcome.verified else "failed",
                "; ".join(f"{host.host}: {host.detail}" for host in outcome.hosts),
            )
        )  # fmt: skip

    def _fail(self, request: ApprovalRequest, why: str) -> None:
        context = self.context
        finish_execution(context, request, Status.FAILED, why)
        context.record(
            AuditEntry(
                "bot", "bot", "transition.finished", request.env,
                {"request": request.id}, "failed", why.splitlines()[0],
            )
        )  # fmt: skip
        context.poster.post(
            context.spec.channel,
            with_audit_head(
                f":x: Transition {request.target} not run: {why}", context.audit.head()
            ),
            thread_ts=request.message_ts,
        )
        refresh_request_message(context, replace(request, status=Status.FAILED), why)
