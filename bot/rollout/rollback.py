"""Executing an approved rollback on every host, and reporting what happened.

A full rollback verified on every host ends the rollout's current phase as `rolled back`;
a per-job rollback leaves the phase alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.approvals import ApprovalRequest, Status
from bot.core.changes import ChangeOutcome, rollback_change
from bot.core.errors import UserError
from bot.core.phase_record import ROLLED_BACK, Entry
from bot.core.request_tiers import planned_tiers, rollback_tiers
from bot.core.tiers import HostStanding
from bot.render import blocks
from bot.render.audit_head import with_audit_head
from bot.render.tier_text import needs_retry, progress_text, retry_label, stopped_text
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import finish_execution
from bot.rollout.request_message import refresh_request_message
from bot.rollout.soak_cancel import cancel_soaking_transitions
from bot.rollout.tiered_change import TierRun, left_spec
from bot.store.audit import AuditEntry
from bot.store.executions import StateUpdate
from bot.store.store import EnvState
from bot.store.timeline import Timeline

logger = logging.getLogger(__name__)


class RollbackRunner:
    def __init__(self, context: BotContext) -> None:
        self.context = context

    def execute(self, request_id: str) -> ChangeOutcome | None:
        """Run a claimed (EXECUTING) request on every host and report the result."""
        context = self.context
        request = context.store.request(request_id)
        if request is None or request.status is not Status.EXECUTING:
            return None
        environment = context.spec.environment(request.env)
        if environment is None:
            self._finish(request, None, "the environment is no longer in the spec")
            return None
        flag = context.spec.flag
        job_key = request.args.get("job")
        if not job_key:
            cancel_soaking_transitions(context, request)
        change = rollback_change(flag, job_key)
        tiers = planned_tiers(request, rollback_tiers(environment, request))
        hosts = [host for tier in tiers for host in tier.hosts]
        run = TierRun(
            context, request, environment, change,
            f":gear: Rolling back {request.target} on {len(hosts)} host(s)"
            + (f" in {len(tiers)} tiers" if len(tiers) > 1 else "")
            + f": setting `{change.key}={change.value}`, reloading, waiting for "
            f"'{change.confirm_line}'."
            + (f" A retry of `{request.args['retry_of']}`." if "retry_of" in request.args else ""),
        )  # fmt: skip
        run.plan(tiers, left_spec(request, environment))
        run.post_progress()
        context.record(
            AuditEntry(
                "bot",
                "bot",
                "rollback.started",
                request.env,
                {"request": request.id, "key": change.key, "value": change.value},
                "ok",
                _break_glass_note(request)
                or f"approved by {', '.join(request.approved_by) or 'policy'}",
            )
        )

        if not tiers:
            self._finish(request, None, "none of its hosts is in the spec any more")
            return None
        run.run(tiers)
        outcome = run.whole_outcome()
        self._finish(request, outcome, standings=run.standings())
        return outcome

    def _finish(
        self,
        request: ApprovalRequest,
        outcome: ChangeOutcome | None,
        why: str = "",
        standings: Sequence[HostStanding] = (),
    ) -> None:
        context = self.context
        now = context.clock.now()
        verified = outcome is not None and outcome.verified
        summary = (
            f"verified on all {len(outcome.hosts)} host(s)"
            if outcome and verified
            else f"FAILED on {len(outcome.failed_hosts)} of {len(outcome.hosts)} host(s)"
            if outcome
            else f"FAILED: {why}"
        )
        status = Status.SUCCEEDED if verified else Status.FAILED
        finished = finish_execution(
            context, request, status, summary, _next_state(request, outcome, now)
        )
        if finished and verified and not request.args.get("job"):
            self._abort_rollout(request, now, _rollback_note(request))
        context.record(
            AuditEntry(
                "bot",
                "bot",
                "rollback.finished",
                request.env,
                {
                    "request": request.id,
                    "hosts": {host.host: host.verified for host in outcome.hosts}
                    if outcome
                    else {},
                },
                "ok" if verified else "failed",
                "; ".join(f"{host.host}: {host.detail}" for host in outcome.hosts)
                if outcome
                else why,
            )
        )
        what = "Break-glass rollback" if request.break_glass_by else "Rollback"
        title = (
            f":white_check_mark: {what} of {request.target} {summary}."
            if verified
            else f":x: *{what} of {request.target} {summary}.* "
            "The hosts below are not confirmed rolled back — act now."
        )
        stopped = stopped_text(standings)
        title = title.replace(" — act now", f" — {stopped}; act now") if stopped else title
        text = (
            progress_text(title, standings)
            if standings
            else blocks.outcome_text(title, outcome)
            if outcome
            else title
        )
        text = with_audit_head(text, context.audit.head())
        retry = (
            blocks.retry_offer_blocks(text, request.env, request.id, retry_label(standings))
            if not verified and needs_retry(standings)
            else None
        )
        context.poster.post(
            context.spec.channel,
            text,
            retry,
            thread_ts=request.message_ts,
            broadcast=not verified,
        )
        refresh_request_message(
            self.context, replace(request, status=status), f"Rollback {summary}."
        )

    def _abort_rollout(self, request: ApprovalRequest, now: datetime, note: str) -> None:
        timeline = Timeline(self.context.store)
        current = timeline.current()
        if current is None or current.is_terminal:
            return
        entry = Entry(
            ROLLED_BACK, request.env, now, "rolled back", request.id, request.approved_by, note=note
        )
        try:
            timeline.enter(entry, expected_current=current.id)
        except UserError:
            logger.warning("the rollout moved while rollback %s finished", request.id)


def _rollback_note(request: ApprovalRequest) -> str:
    break_glass = _break_glass_note(request)
    if break_glass:
        return f"{request.id}: {break_glass}"
    return f"{request.id}: {request.reason}" if request.reason else request.id


def _break_glass_note(request: ApprovalRequest) -> str:
    """`break-glass by <@U…>: why` for a break-glass rollback; empty otherwise."""
    if not request.break_glass_by:
        return ""
    reason = request.args.get("break_glass_reason", "")
    return f"break-glass by <@{request.break_glass_by}>: {reason}"


def _next_state(
    request: ApprovalRequest, outcome: ChangeOutcome | None, now: datetime
) -> StateUpdate | None:
    """What the rollback's outcome makes of its env's state, applied to the state as it is
    when the outcome is written (in the same transaction)."""
    if outcome is None:
        return None
    job_key = request.args.get("job")
    if not outcome.verified:
        failed = ", ".join(host.host for host in outcome.failed_hosts)
        return lambda state: replace(
            state,
            stagger_enabled=None if not job_key else state.stagger_enabled,
            note=f"rollback {request.id} failed on {failed}; hosts may differ",
        )
    if job_key:
        return lambda state: replace(
            state,
            disabled_jobs=tuple(sorted({*state.disabled_jobs, job_key})),
            note=f"{job_key} rolled back by {request.id}",
        )
    return lambda state: EnvState(
        env=request.env,
        phase=ROLLED_BACK,
        stagger_enabled=False,
        since=now,
        disabled_jobs=state.disabled_jobs,
        note=_rollback_note(request),
    )
