"""Once a day, the audit trail's head in the channel: a witness of the trail kept outside
the store (in Slack's history), so that rewinding, truncating, re-hashing or wiping the
trail is found by `stagger-bot audit verify --head`. Posted once per UTC day even
across a restart; nothing while the trail is empty."""

from __future__ import annotations

from datetime import datetime

from bot.render.audit_head import daily_audit_head_text
from bot.rollout.context import BotContext


def run(context: BotContext, now: datetime) -> bool:
    """Whether this run posted."""
    head = context.audit.head()
    if head is None or not context.store.first_time(f"audit-head:{now:%Y-%m-%d}", now):
        return False
    context.poster.post(context.spec.channel, daily_audit_head_text(head))
    return True
