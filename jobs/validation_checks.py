"""The first-30-minute validation: run each check that has come due, post it in the
transition's thread, and propose (or, under `auto_rollback`, run) a rollback when a
check fails."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.core.checks import CheckState, overall
from bot.core.clock import describe_duration
from bot.core.host_address import HostAddress
from bot.core.spec import find_collisions
from bot.core.tiers import CANARY, HostState
from bot.core.time_limits import measurement_time_limit
from bot.core.validation import validate
from bot.rollout.actions import Actions
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure_since
from bot.store.audit import AuditEntry
from bot.store.check_schedule import CheckSchedule, ScheduledCheck
from bot.store.execution_hosts import ExecutionHosts
from bot.store.soaks import Soaks
from bot.store.timeline import Timeline

logger = logging.getLogger(__name__)

_WORD = {CheckState.MET: "passed", CheckState.NOT_MET: "failed", CheckState.UNKNOWN: "not verified"}
_HEADLINE = {
    CheckState.MET: ":white_check_mark: *Validation {label} passed*",
    CheckState.NOT_MET: ":x: *Validation {label} FAILED*",
    CheckState.UNKNOWN: ":grey_question: *Validation {label} could not be verified*",
}


def colliding_jobs(context: BotContext) -> list[tuple[str, ...]]:
    """The names of each set of jobs the spec starts in the same second."""
    names = {job.key: job.name for job in context.spec.jobs}
    sets = {keys for _, keys in find_collisions(context.spec.jobs)}
    return sorted(tuple(names[key] for key in keys) for keys in sets)


def soaking_canary(context: BotContext, env: str, phase_id: int) -> list[str]:
    """The canary hosts of a transition soaking in this phase (the only hosts that run
    it yet); none when no change soaks."""
    soak = Soaks(context.store).pending(env)
    if soak is None or soak.phase_id != phase_id:
        return []
    return [
        standing.host
        for standing in ExecutionHosts(context.store).of(soak.request_id)
        if standing.tier == CANARY and standing.state is HostState.VERIFIED
    ]


def run(context: BotContext, now: datetime) -> list[tuple[ScheduledCheck, CheckState]]:
    schedule = CheckSchedule(context.store)
    current = Timeline(context.store).current()
    done: list[tuple[ScheduledCheck, CheckState]] = []
    for check in schedule.due(now):
        # The lease is on the wall clock: another process may take the check over only
        # when this one has had the time measuring may take, in real seconds.
        lease = context.wall_clock.now() + timedelta(seconds=measurement_time_limit(context.spec))
        if not schedule.claim(check.id, lease):
            continue
        if current is None or current.id != check.phase_id:
            schedule.finish(check.id, "skipped", "the phase ended before the check was due")
            continue
        canary = soaking_canary(context, check.env, check.phase_id)
        report = measure_since(
            context,
            check.env,
            current.started_at,
            [HostAddress.parse(host) for host in canary] if canary else None,
        )
        results = validate(report.measurements, context.spec.validation, colliding_jobs(context))
        outcome = overall(results)
        late = now - check.due_at
        headline = _HEADLINE[outcome].format(label=check.label) + f" ({current.phase}, {check.env})"
        if canary:
            headline += f" — canary hosts only ({', '.join(canary)}), during the soak"
        if late > timedelta(minutes=2):
            headline += f" — ran {describe_duration(late)} late (the bot was not running)"
        context.poster.post(
            context.spec.channel,
            headline + "\n" + "\n".join(result.line() for result in results),
            thread_ts=check.thread_ts,
            broadcast=outcome is not CheckState.MET,
        )
        context.record(
            AuditEntry(
                "bot",
                "scheduler",
                "validation.check",
                check.env,
                {"check": check.label, "phase": current.phase},
                _WORD[outcome],
                "; ".join(f"{r.name}: {r.state.value}" for r in results),
            )
        )
        if outcome is not CheckState.MET:
            failing = ", ".join(r.name for r in results if r.state is not CheckState.MET)
            environment = context.spec.environments[check.env]
            reply = Actions(context).propose_rollback(
                check.env,
                f"validation {check.label} after {current.phase}: {_WORD[outcome]} ({failing})",
                # Only a definite failure rolls back on its own; missing data is proposed.
                auto=environment.auto_rollback and outcome is CheckState.NOT_MET,
            )
            context.poster.post(context.spec.channel, reply.text, thread_ts=check.thread_ts)
            for followup in reply.followups:
                followup()
        schedule.finish(check.id, "done", _WORD[outcome])
        done.append((check, outcome))
    return done
