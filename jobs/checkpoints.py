"""The 6-hourly KPI checkpoints (the spec's cron) for the env whose phase is running.

The job runs every minute and decides from the store: the slots since the last one
handled are claimed at once (never posted twice, even by a second process); the latest
is posted if it is within the grace time, and older missed ones are listed in one line
instead of being replayed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.clock import format_time
from bot.rollout.checkpoint_post import post_checkpoint
from bot.rollout.context import BotContext
from bot.store.checkpoints import Checkpoints, interval_after, slots_between
from bot.store.timeline import Timeline


def run(context: BotContext, now: datetime) -> datetime | None:
    """The slot posted by this run, if any."""
    spec = context.spec.checkpoints
    checkpoints = Checkpoints(context.store)
    current = Timeline(context.store).current()
    running = current if current is not None and not current.is_terminal else None
    last = checkpoints.last_slot()
    floor = last
    if running is not None:
        floor = max(last, running.started_at) if last else running.started_at
    slots = slots_between(spec.cron, context.spec.timezone, floor or now, now)
    if not slots or not checkpoints.claim_slot(last, slots[-1]):
        return None
    if running is None:
        return None
    latest = slots[-1]
    on_time = now - latest <= timedelta(minutes=spec.grace_min)
    missed = slots if not on_time else slots[:-1]
    if missed:
        zone = context.spec.timezone
        listed = ", ".join(format_time(slot, zone) for slot in missed[:12])
        more = f" and {len(missed) - 12} more" if len(missed) > 12 else ""
        context.poster.post(
            context.spec.channel,
            f":warning: {len(missed)} checkpoint(s) of {running.env} were missed while the "
            f"bot was not running ({listed}{more}); not replayed. "
            f"`/stagger checkpoint {running.env}` posts one now.",
        )
    if not on_time:
        return None
    span = interval_after(spec.cron, context.spec.timezone, latest)
    post_checkpoint(context, running.env, running, latest, span)
    return latest
