"""Close approval requests nobody approved in time: message updated, nothing run."""

from __future__ import annotations

from datetime import datetime

from bot.core.approvals import ApprovalRequest
from bot.rollout.actions import Actions
from bot.rollout.context import BotContext


def run(context: BotContext, now: datetime) -> list[ApprovalRequest]:
    actions = Actions(context)
    return [
        request for request in context.store.expired_pending(now) if actions.expire(request, now)
    ]
