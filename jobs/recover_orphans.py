"""Work a dead process left behind, found while the bot runs, not only at its next start:
a rollback or transition left EXECUTING is reported interrupted (never re-run), and a
validation check left running goes back to pending, to run once more. Work of a live
process, this one or another on the same store, is left to it."""

from __future__ import annotations

from datetime import datetime

from bot.rollout.context import BotContext
from bot.rollout.execution import recover_interrupted
from bot.store.check_schedule import CheckSchedule


def run(context: BotContext, now: datetime) -> int:
    interrupted = recover_interrupted(context, at_start=False)
    released = CheckSchedule(context.store).release_running(at_start=False)
    return len(interrupted) + released
