"""Keeping an approval request's Slack message in step with its status."""

from __future__ import annotations

from bot.core.approvals import ApprovalRequest, Status
from bot.render import blocks
from bot.rollout.context import BotContext


def refresh_request_message(
    context: BotContext, request: ApprovalRequest, note: str | None = None
) -> None:
    """Buttons while pending; the outcome, without buttons, once closed."""
    if not request.channel or not request.message_ts:
        return
    payload = (
        blocks.approval_request_blocks(request, context.spec.timezone)
        if request.status is Status.PENDING
        else blocks.closed_request_blocks(
            request, note or request.status.value, context.spec.timezone
        )
    )
    context.poster.update(
        request.channel,
        request.message_ts,
        f"{request.description}: {request.status.value}",
        payload,
    )
