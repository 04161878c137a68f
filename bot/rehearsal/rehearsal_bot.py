"""The bot as the rehearsal runs it: its context, the clock it is driven by, the signed
Slack requests the simulated people send, and the executor its follow-up work runs on."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.clock import ManualClock
from bot.rehearsal.idle_executor import IdleTrackingExecutor
from bot.rehearsal.slack_signing import SlackSender
from bot.rollout.context import BotContext


@dataclass
class RehearsalBot:
    context: BotContext
    clock: ManualClock
    sender: SlackSender
    executor: IdleTrackingExecutor
