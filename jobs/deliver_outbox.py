"""Deliver the posts Slack refused earlier (queued in the store's outbox), oldest first."""

from __future__ import annotations

from datetime import datetime

from bot.rollout.context import BotContext


def run(context: BotContext, now: datetime) -> int:
    return context.poster.flush()
