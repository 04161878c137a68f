"""A soak that is over while a full rollback of its env waits for approval: the other
hosts wait — as a lock holds them — so a change the approvers may be about to undo
goes no further. Said once per rollback in the change's thread. If the rollback is
denied or expires, the batches go on; if it runs, it ends the soak
(`bot.rollout.soak_cancel`)."""

from __future__ import annotations

from datetime import datetime

from bot.core.approvals import ApprovalRequest, Status
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry


def pending_full_rollback(context: BotContext, env: str) -> ApprovalRequest | None:
    return next(
        (
            request
            for request in context.store.open_requests(env)
            if request.action == "rollback"
            and request.status is Status.PENDING
            and not request.args.get("job")
        ),
        None,
    )


def held_by_rollback(
    context: BotContext, request: ApprovalRequest, now: datetime
) -> ApprovalRequest | None:
    """The pending full rollback keeping this due soak's other hosts waiting, told in
    its thread the first time; None when the batches may go on."""
    rollback = pending_full_rollback(context, request.env)
    if rollback is None:
        return None
    if context.store.first_time(f"soak-held:{request.id}:rollback {rollback.id}", now):
        context.record(
            AuditEntry(
                "bot", "scheduler", "transition.soak_held", request.env,
                {"request": request.id, "rollback": rollback.id}, "held",
                f"full rollback {rollback.id} pending",
            )
        )  # fmt: skip
        context.poster.post(
            context.spec.channel,
            f":hourglass: `{request.id}`: the soak is over but a rollback of {request.env} "
            f"(`{rollback.id}`) waits for approval: the other hosts wait until it is "
            "decided. Denied or expired, they go on; run, it ends this change.",
            thread_ts=request.message_ts,
        )
    return rollback
