"""A soak that is over while its env is held (a lock, a freeze window): the other hosts
wait — the soak is not cancelled — until the hold ends, said once per hold in the
change's thread, and in `status` while it lasts. Stopping after a failed check over the
canary changes no host, so a hold never keeps it waiting."""

from __future__ import annotations

from datetime import datetime

from bot.core.approvals import ApprovalRequest, Status
from bot.rollout.context import BotContext
from bot.rollout.holds import Hold, transition_hold
from bot.store.audit import AuditEntry
from bot.store.soaks import Soaks


def waiting_text(hold: Hold) -> str:
    what = []
    if hold.lock is not None:
        what.append(f"locked by <@{hold.lock.holder}>")
    if hold.freeze is not None:
        what.append("in a freeze window")
    ends = "it is unlocked" if hold.freeze is None else "the hold ends"
    return (
        f"the soak is over but {hold.env} is {' and '.join(what)}: the other hosts wait "
        f"until {ends}"
    )


def held_soak(context: BotContext, request: ApprovalRequest, now: datetime) -> Hold | None:
    """The hold keeping this due soak's other hosts waiting, told in its thread the first
    time this hold keeps it; None when the batches may go on."""
    hold = transition_hold(context, request.env, now)
    if hold is None:
        return None
    key = (
        f"soak-held:{request.id}:"
        + (f"lock {hold.lock.id}" if hold.lock is not None else "")
        + (f"freeze {hold.freeze.until.isoformat()}" if hold.freeze is not None else "")
    )
    if context.store.first_time(key, now):
        context.record(
            AuditEntry(
                "bot", "scheduler", "transition.soak_held", request.env,
                {"request": request.id}, "held", hold.audit_reason,
            )
        )  # fmt: skip
        context.poster.post(
            context.spec.channel,
            f":lock: `{request.id}`: {waiting_text(hold)}. {hold.text}",
            thread_ts=request.message_ts,
        )
    return hold


def status_line(context: BotContext, request: ApprovalRequest, now: datetime) -> str | None:
    """For `status`: a soaking request whose soak is over and whose env is held."""
    if request.status is not Status.SOAKING:
        return None
    soak = Soaks(context.store).of(request.id)
    if soak is None or soak.status != "pending" or soak.due_at > now:
        return None
    hold = transition_hold(context, request.env, now)
    return f"`{request.id}`: {waiting_text(hold)}." if hold is not None else None
