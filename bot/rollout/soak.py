"""A transition's canary soak: parking it once its canary tier verified (the env's state
says what the fleet runs), stopping it when a validation check over the canary failed, and
starting the phase's clock over once every host runs it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.clock import format_time
from bot.core.phase_record import PhaseRecord
from bot.core.spec_fleet import EnvironmentSpec
from bot.core.spec_rollout import PhaseSpec
from bot.core.tiers import HostState, not_started_text
from bot.render import blocks
from bot.render.audit_head import with_audit_head
from bot.render.tier_text import progress_text
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import finish_execution
from bot.rollout.request_message import refresh_request_message
from bot.rollout.tiered_change import TierRun
from bot.store.audit import AuditEntry
from bot.store.check_schedule import CheckSchedule
from bot.store.phase_threads import PhaseThreads
from bot.store.soaks import Soaks
from bot.store.store import EnvState
from bot.store.timeline import Timeline


def park_for_soak(
    context: BotContext,
    request: ApprovalRequest,
    target: PhaseSpec,
    environment: EnvironmentSpec,
    run: TierRun,
    entered: PhaseRecord,
) -> None:
    now = context.clock.now()
    due = now + timedelta(minutes=environment.canary_soak_min)
    canary = ", ".join(environment.canary)
    rest = run.remaining()
    others = sum(len(tier.hosts) for tier in rest)
    at = format_time(due, context.spec.timezone)
    note = (
        f"{target.name} on the canary hosts only ({canary}); the other {others} host(s) "
        f"after the soak, at {at}"
    )
    parked = Soaks(context.store).park(
        request.id,
        target.env,
        entered.id,
        due,
        lambda previous: EnvState(
            target.env, target.name, target.stagger, now, previous.disabled_jobs, note
        ),
    )
    if not parked:
        finish_execution(context, request, Status.FAILED, "the canary verified; " + note)
        return
    context.record(
        AuditEntry(
            "bot", "bot", "transition.soaking", request.env,
            {"request": request.id, "phase": target.name, "due_at": due.isoformat(),
             "canary": list(environment.canary)},
            "ok", note,
        )
    )  # fmt: skip
    context.poster.post(
        context.spec.channel,
        f":hourglass: *Canary verified*: {target.name} runs on {canary} only. Soaking "
        f"{environment.canary_soak_min} min while the validation checks watch the canary "
        f"hosts; then, if none failed, {not_started_text(rest).removesuffix(' not started')}"
        f" at {at}. A rollback meanwhile goes to every host at once and cancels the rest.",
        thread_ts=request.message_ts,
    )
    refresh_request_message(
        context, replace(request, status=Status.SOAKING), f"Canary verified; {note}."
    )


def stop_after_canary(
    context: BotContext, request: ApprovalRequest, target: PhaseSpec, run: TierRun, failed: str
) -> None:
    standings = run.standings()
    untouched = [s.host for s in standings if s.state is HostState.NOT_STARTED]
    summary = f"stopped after the canary: {failed}; not started: {', '.join(untouched)}"
    finish_execution(
        context, request, Status.FAILED, summary,
        lambda state: replace(
            state, stagger_enabled=None,
            note=f"transition {request.id} to {target.name} {summary}; hosts differ",
        ),
    )  # fmt: skip
    context.record(
        AuditEntry(
            "bot", "bot", "transition.finished", request.env,
            {"request": request.id, "phase": target.name, "not_started": untouched},
            "failed", summary,
        )
    )  # fmt: skip
    text = with_audit_head(
        progress_text(
            f":x: *{target.name} {summary}.* The other hosts keep their setting; "
            f"roll back the canary with `/stagger rollback {target.env}` or the button.",
            standings,
        ),
        context.audit.head(),
    )
    context.poster.post(
        context.spec.channel,
        text,
        blocks.rollback_offer_blocks(text, target.env),
        thread_ts=request.message_ts,
        broadcast=True,
    )
    refresh_request_message(context, replace(request, status=Status.FAILED), summary)


def whole_fleet_from_now(
    context: BotContext, request: ApprovalRequest, target: PhaseSpec, entered: PhaseRecord
) -> None:
    """The phase was entered when the canary verified; now every host runs it, its
    clock starts over (so no KPI window mixes changed and unchanged hosts) and the
    validation checks start over, over the whole fleet."""
    now = context.clock.now()
    since = format_time(entered.started_at, context.spec.timezone)
    Timeline(context.store).restart(entered.id, now, f"on the canary hosts from {since}")
    if not target.stagger:
        return
    schedule = CheckSchedule(context.store)
    lease = context.wall_clock.now() + timedelta(minutes=1)
    for check in schedule.of_phase(entered.id):
        if check.status == "pending" and schedule.claim(check.id, lease):
            schedule.finish(check.id, "skipped", "every host runs the phase: checks restart")
    minutes = context.spec.validation.checks_after_min
    schedule.schedule(
        entered.env,
        entered.id,
        PhaseThreads(context.store).of_phase(entered.id) or request.message_ts,
        [(f"+{m} min", now + timedelta(minutes=m)) for m in minutes],
    )
