"""Env locks over time: a lock whose expiry passed is released and announced; a lock held
for a day or more is recalled in the channel once a day, so that none is forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.clock import describe_duration, format_time
from bot.render.blocks import escape
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from bot.store.locks import EnvLock, EnvLocks

RECALL_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class LockSweep:
    released: tuple[EnvLock, ...]
    recalled: tuple[EnvLock, ...]


def run(context: BotContext, now: datetime) -> LockSweep:
    locks = EnvLocks(context.store)
    released = tuple(lock for lock in locks.expired(now) if _release(context, locks, lock, now))
    recalled = tuple(lock for lock in locks.active(now) if _recall(context, lock, now))
    return LockSweep(released, recalled)


def _release(context: BotContext, locks: EnvLocks, lock: EnvLock, now: datetime) -> bool:
    if not locks.release(lock, "stagger-bot", now):
        return False
    assert lock.expires_at is not None
    context.record(
        AuditEntry(
            "bot", "scheduler", "lock.released", lock.env,
            {"lock": str(lock.id), "holder": lock.holder}, "ok", "expired",
        )
    )  # fmt: skip
    zone = context.spec.timezone
    context.poster.post(
        context.spec.channel,
        f":unlock: *{lock.env}* is unlocked: the lock <@{lock.holder}> took "
        f"{format_time(lock.acquired_at, zone)} ({escape(lock.reason)}) expired at "
        f"{format_time(lock.expires_at, zone)}. Transitions may be requested and approved again.",
    )
    return True


def _recall(context: BotContext, lock: EnvLock, now: datetime) -> bool:
    """Once for each whole day the lock has been held."""
    days = (now - lock.acquired_at) // RECALL_EVERY
    if days < 1 or not context.store.first_time(f"lock-recall:{lock.id}:{days}", now):
        return False
    held = describe_duration(now - lock.acquired_at)
    context.record(
        AuditEntry(
            "bot", "scheduler", "lock.recalled", lock.env,
            {"lock": str(lock.id), "holder": lock.holder}, "ok", f"held {held}",
        )
    )  # fmt: skip
    context.poster.post(
        context.spec.channel,
        f":lock: *{lock.env}* has been locked by <@{lock.holder}> for {held}: "
        f"{escape(lock.reason)}. Its transitions are held until `/stagger unlock {lock.env}`.",
    )
    return True
