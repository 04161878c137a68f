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
from bot.core.request_tiers import planned_tiers, retry_hosts
from bot.core.spec_fleet import EnvironmentSpec
from bot.core.spec_rollout import PhaseSpec
from bot.core.tiers import CANARY, HostState, Tier, restricted
from bot.render import blocks
from bot.render.audit_head import with_audit_head
from bot.render.tier_text import needs_retry, progress_text, retry_label, stopped_text
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import finish_execution
from bot.rollout.fleet_gate import fleet_gate
from bot.rollout.judging import phase_gates
from bot.rollout.measuring import measure_since
from bot.rollout.phase_thread import open_phase_thread, phase_thread
from bot.rollout.request_message import refresh_request_message
from bot.rollout.soak import park_for_soak, stop_after_canary, whole_fleet_from_now
from bot.rollout.tiered_change import TierRun, left_spec
from bot.store.audit import AuditEntry
from bot.store.baselines import Baselines, snapshot
from bot.store.check_schedule import CheckSchedule
from bot.store.execution_hosts import ExecutionHosts
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
        # A retry of a change whose canary already entered the phase goes on from there.
        entered = current if self._entered_by_change(request, current) else None
        leaving = context.spec.phase(current.phase) if current else None
        report = None
        if entered is None:
            if (str(current.id) if current else "") != request.args.get("from_id", ""):
                self._fail(request, "the rollout moved on since the request; nothing changed")
                return None
            report = measure_since(context, current.env, current.started_at) if current else None
            if not request.forced and current is not None and report is not None:
                others = [r for r in context.store.open_requests(current.env) if r.id != request.id]
                gates = [
                    *phase_gates(context, current, report, others),
                    fleet_gate(context, current, others, env_state=False),
                ]
                if not all_met(gates):
                    why = "the gates are no longer met; nothing was changed\n" + gates_text(gates)
                    self._fail(request, why)
                    return None
        environment = context.spec.environments[target.env]
        run = self._start(request, target, environment)
        tiers = planned_tiers(request, environment.tiers)
        run.plan(tiers, left_spec(request, environment))
        if not tiers:
            self._fail(request, "none of its hosts is in the spec any more; nothing was changed")
            return None
        if entered is None and tiers[0].name == CANARY and len(tiers) > 1:
            canary = run.run(tiers[:1])
            if not canary.verified:
                self._report_failure(request, target, current, run, entered=False)
                return canary.outcome
            entered = self._enter(request, target, current, leaving, report)
            rest = sum(len(tier.hosts) for tier in tiers[1:])
            open_phase_thread(self.context, entered, canary.outcome, others=rest)
            if environment.canary_soak_min > 0:
                park_for_soak(self.context, request, target, environment, run, entered)
                return canary.outcome
            tiers = tiers[1:]
        return self._run_rest(request, target, current, run, tiers, entered, leaving, report)

    def resume(self, request_id: str, failed_checks: str = "") -> ChangeOutcome | None:
        """Go on after the soak with the hosts not verified yet (claimed again, EXECUTING);
        with `failed_checks`, stop: the other hosts are never changed."""
        context = self.context
        request = context.store.request(request_id)
        if request is None or request.status is not Status.EXECUTING:
            return None
        target = context.spec.phase(request.args.get("phase", ""))
        environment = context.spec.environment(request.env)
        if target is None or environment is None:
            self._fail(request, "its phase or env is no longer in the spec; the other hosts "
                       "were not changed", mixed=True)  # fmt: skip
            return None
        current = self.timeline.current()
        if not self._entered_by_change(request, current):
            self._fail(request, "the rollout moved on during the soak; the other hosts were "
                       "not changed", mixed=True)  # fmt: skip
            return None
        run = self._start(
            request, target, environment, f":gear: The soak of `{request.id}` is over: "
            f"{target.name} goes on to the other hosts of {target.env}."
        )  # fmt: skip
        if failed_checks:
            stop_after_canary(self.context, request, target, run, failed_checks)
            return None
        remaining = run.remaining()
        kept = restricted(remaining, environment.hosts)
        gone = [h for t in remaining for h in t.hosts if h not in environment.hosts]
        run.plan((), gone)
        return self._run_rest(request, target, current, run, kept, current, None, None)

    def _run_rest(
        self,
        request: ApprovalRequest,
        target: PhaseSpec,
        current: PhaseRecord | None,
        run: TierRun,
        tiers: tuple[Tier, ...],
        entered: PhaseRecord | None,
        leaving: PhaseSpec | None,
        report: KpiReport | None,
    ) -> ChangeOutcome:
        result = run.run(tiers)
        if not result.verified:
            self._report_failure(request, target, current, run, entered=entered is not None)
            return run.whole_outcome()
        if entered is None:
            self._enter(request, target, current, leaving, report)
        else:
            whole_fleet_from_now(self.context, request, target, entered)
        outcome = run.whole_outcome()
        self._succeed(request, target, outcome, self.context.clock.now())
        return outcome

    def _entered_by_change(self, request: ApprovalRequest, current: PhaseRecord | None) -> bool:
        """Whether the rollout's current phase was entered by this change or the one it
        retries (its canary tier verified before its other hosts failed)."""
        if current is None or current.phase != request.args.get("phase"):
            return False
        lineage, seen = request, set()
        while lineage.id not in seen:
            if current.request_id == lineage.id:
                return True
            seen.add(lineage.id)
            previous = self.context.store.request(lineage.args.get("retry_of", ""))
            if previous is None:
                return False
            lineage = previous
        return False

    def _enter(
        self,
        request: ApprovalRequest,
        target: PhaseSpec,
        current: PhaseRecord | None,
        leaving: PhaseSpec | None,
        report: KpiReport | None,
    ) -> PhaseRecord:
        context = self.context
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
        return entered

    def _start(
        self,
        request: ApprovalRequest,
        target: PhaseSpec,
        environment: EnvironmentSpec,
        title: str | None = None,
    ) -> TierRun:
        context = self.context
        flag = context.spec.flag
        # The approval covered the pinned plan's change, whatever the spec says since.
        key, value = (
            (request.plan.key, request.plan.value)
            if request.plan is not None
            else (flag.name, "true" if target.stagger else "false")
        )
        change = FlagChange(
            key, value, flag.enabled_line if value == "true" else flag.disabled_line
        )
        hosts = retry_hosts(request) or environment.hosts
        title = title or (
            f":gear: Entering {target.name} on {len(hosts)} host(s) of "
            f"{target.env}: setting `{change.key}={change.value}`, reloading, waiting for "
            f"'{change.confirm_line}'."
            + (f" A retry of `{request.args['retry_of']}`." if "retry_of" in request.args else "")
        )
        context.record(
            AuditEntry(
                "bot", "bot", "transition.started", request.env,
                {"request": request.id, "phase": target.name, "forced": request.forced,
                 **({"retry_of": request.args["retry_of"]} if "retry_of" in request.args else {})},
                "ok", f"approved by {', '.join(request.approved_by) or 'policy'}",
            )
        )  # fmt: skip
        return TierRun(context, request, environment, change, title)

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
        if "retry_of" in request.args:
            summary += f" retried from `{request.args['retry_of']}` as `{request.id}`"
        joined = self._joined_since(request, target)
        where = f"every host of {target.env}"
        if joined:
            planned = len(request.plan.hosts) if request.plan else len(outcome.hosts)
            where = (
                f"every host of its plan ({planned}); {', '.join(joined)} joined the spec "
                "since and was not changed"
            )
        finish_execution(
            context,
            request,
            Status.SUCCEEDED,
            summary,
            lambda previous: EnvState(
                target.env, target.name, None if joined else target.stagger, now,
                previous.disabled_jobs,
                f"{target.name} on every host of {request.id}'s plan; not changed: "
                f"{', '.join(joined)} (joined the spec since)" if joined else "",
            ),
        )  # fmt: skip
        self._audit_finished(request, target, outcome)
        thread = phase_thread(context, target.env)
        if thread is None:
            open_phase_thread(context, self.timeline.current(), outcome)
        else:
            # Its canary entered the phase and opened the thread: the rest is told there.
            title = f":white_check_mark: *{target.name}* now runs on {where}: {summary}."
            text = with_audit_head(blocks.outcome_text(title, outcome), context.audit.head())
            context.poster.post(context.spec.channel, text, thread_ts=thread)
        refresh_request_message(
            context, replace(request, status=Status.SUCCEEDED), f"{target.name} started; {summary}."
        )

    def _joined_since(self, request: ApprovalRequest, target: PhaseSpec) -> list[str]:
        """The env's hosts its pinned plan did not have (so were left as they were)."""
        environment = self.context.spec.environment(target.env)
        if request.plan is None or environment is None or "retry_of" in request.args:
            return []
        return [host for host in environment.hosts if host not in request.plan.hosts]

    def _report_failure(
        self,
        request: ApprovalRequest,
        target: PhaseSpec,
        current: PhaseRecord | None,
        run: TierRun,
        *,
        entered: bool,
    ) -> None:
        context = self.context
        standings = run.standings()
        outcome = run.whole_outcome()
        failed = outcome.failed_hosts
        summary = f"FAILED on {len(failed)} of {len(standings)} host(s)"
        stopped = stopped_text(standings)
        hosts = ", ".join(host.host for host in failed)
        finish_execution(
            context,
            request,
            Status.FAILED,
            summary + (f"; {stopped}" if stopped else ""),
            lambda state: replace(
                state,
                stagger_enabled=None,
                note=f"transition {request.id} to {target.name} failed on {hosts}; "
                "hosts may differ",
            ),
        )
        self._audit_finished(request, target, outcome)
        stays = current.phase if current else "not started"
        where = (
            f"The rollout is in *{target.name}* (entered when the canary verified), but only "
            "the verified hosts run it"
            if entered
            else f"The rollout stays in *{stays}*"
        )
        title = (
            f":x: *Entering {target.name} {summary}*"
            + (f" — {stopped}." if stopped else ".")
            + f" {where}; the hosts below are not confirmed, so {target.env} may run mixed "
            f"settings. Roll back with `/stagger rollback {target.env}` or the button"
            + (", or retry the hosts that did not verify." if needs_retry(standings) else ".")
        )
        text = with_audit_head(progress_text(title, standings), context.audit.head())
        offer = (
            blocks.retry_offer_blocks(text, target.env, request.id, retry_label(standings))
            if needs_retry(standings)
            else blocks.rollback_offer_blocks(text, target.env)
        )
        context.poster.post(
            context.spec.channel, text, offer, thread_ts=request.message_ts, broadcast=True
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

    def _fail(self, request: ApprovalRequest, why: str, *, mixed: bool = False) -> None:
        """`mixed`: its canary verified before it stopped, so the hosts differ."""
        context = self.context
        changed = [s.host for s in ExecutionHosts(context.store).of(request.id)
                   if s.state is HostState.VERIFIED]  # fmt: skip
        finish_execution(
            context, request, Status.FAILED, why,
            (lambda state: replace(
                state, stagger_enabled=None,
                note=f"transition {request.id} to {request.args.get('phase', '')}: {why}; "
                f"{', '.join(changed) or 'no host'} run(s) it; hosts differ",
            )) if mixed else None,
        )  # fmt: skip
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
