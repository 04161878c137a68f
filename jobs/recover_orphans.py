"""Work whose owner went away, found while the bot runs, not only at its next start: a
rollback or transition whose lease lapsed is reported interrupted (never re-run), and a
validation check whose lease lapsed goes back to pending, to run once more. Work whose
owner still renews its lease, in this process or another, is left to it. A pending
rollback that needs no approval whose waiter is gone is claimed and run
(`bot.rollout.orphaned_rollback`)."""

from __future__ import annotations

from datetime import datetime

from bot.rollout.context import BotContext
from bot.rollout.execution_lease import recover_interrupted
from bot.rollout.orphaned_rollback import run_orphaned
from bot.store.check_schedule import CheckSchedule


def run(context: BotContext, now: datetime) -> int:
    interrupted = recover_interrupted(context)
    released = CheckSchedule(context.store).release_lapsed(context.wall_clock.now())
    ran = run_orphaned(context)
    return len(interrupted) + released + len(ran)
