"""Each phase's thread: a top-level "phase started" message, whose thread holds everything
the phase says afterwards — its validation checks, its alerts, their reminders and their
resolved notices — so that a 7-day phase reads as one thread.

The message's ts is kept with the phase on the timeline. A start message Slack did not take
waits in the outbox (delivered later, in order); until then the phase has no thread, and
its alerts are posted to the channel, saying so.
"""

from __future__ import annotations

import logging

from bot.core.changes import ChangeOutcome
from bot.core.phase_record import PhaseRecord
from bot.render import blocks
from bot.render.audit_head import with_audit_head
from bot.rollout.context import BotContext
from bot.store.phase_threads import PhaseThreads

logger = logging.getLogger(__name__)

NO_THREAD_NOTE = (
    "_This phase has no thread (its start message has not reached Slack, or the phase began "
    "before alerts were threaded), so its alerts are posted here. Nothing is lost: posts "
    "Slack refused are delivered later, in order._"
)


def open_phase_thread(
    context: BotContext,
    record: PhaseRecord | None,
    outcome: ChangeOutcome | None = None,
    *,
    others: int = 0,
) -> str | None:
    """Post `record`'s start message to the channel and keep its ts as the phase's thread,
    where its validation checks will post; the ts, or None when Slack did not take the
    post (it is queued: the checks stay in the request's thread). `others`: the hosts a
    tiered change has still to reach (its canary entered the phase)."""
    if record is None:
        return None
    title = start_title(context, record, outcome, others)
    text = with_audit_head(
        blocks.outcome_text(title, outcome) if outcome is not None else title,
        context.audit.head(),
    )
    ts = context.poster.post(context.spec.channel, text)
    if ts:
        PhaseThreads(context.store).set(record.id, ts)  # and its checks move there
    else:
        logger.warning(
            "the start message of %s is queued: its alerts go to the channel", record.phase
        )
    return ts


def phase_thread(context: BotContext, env: str) -> str | None:
    """The thread of the phase running now on `env`; None if it has none."""
    return PhaseThreads(context.store).current(env)


def start_title(
    context: BotContext, record: PhaseRecord, outcome: ChangeOutcome | None, others: int = 0
) -> str:
    phase = context.spec.phase(record.phase)
    verified = f": verified on all {len(outcome.hosts)} host(s)" if outcome is not None else ""
    if outcome is not None and others:
        verified = (
            f": verified on its {len(outcome.hosts)} canary host(s); the other {others} "
            "host(s) follow in batches"
        )
    how = (
        f" Forced by request `{record.request_id}`: {blocks.escape(record.note)}."
        if record.forced
        else f" Request `{record.request_id}`."
        if record.request_id
        else ""
    )
    follow = ""
    if phase is not None and phase.stagger:
        checks = context.spec.validation.checks_after_min
        follow = (
            " Validation checks at " + ", ".join(f"+{m}" for m in checks) + " min will post "
            "here, and so will this phase's alerts, their reminders and resolved notices."
        )
    return f":white_check_mark: *{record.phase}* started on {record.env}{verified}.{how}{follow}"
