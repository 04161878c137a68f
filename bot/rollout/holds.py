"""The one place that decides whether an env's phase transitions are held: by a person's
lock (`/stagger lock`) or by a freeze window of the spec (`[[freeze]]`).

A hold refuses new transition requests and the approval of pending ones; it never
holds a rollback. Every refusal, `status` and App Home say it in the same words: who
holds the lock, since when, why, until when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.clock import describe_duration, format_time
from bot.core.freeze import Freeze, freeze_at, freezes_within
from bot.render.blocks import escape
from bot.rollout.context import BotContext
from bot.store.locks import EnvLock, EnvLocks

ROLLBACKS_GO = "Rollbacks are not blocked."
UPCOMING = timedelta(hours=24)


@dataclass(frozen=True)
class Hold:
    env: str
    lock: EnvLock | None
    freeze: Freeze | None
    # For people: who holds it, since when, why, until when.
    text: str

    @property
    def audit_reason(self) -> str:
        """What the audit trail keeps as the refusal's reason."""
        parts = []
        if self.lock is not None:
            parts.append(f"locked by {self.lock.holder}: {self.lock.reason}")
        if self.freeze is not None:
            parts.append(f"freeze until {self.freeze.until:%Y-%m-%dT%H:%MZ}: {self.freeze.reason}")
        return "; ".join(parts)


def transition_hold(context: BotContext, env: str, now: datetime) -> Hold | None:
    """What holds `env`'s transitions at `now`, if anything."""
    lock = EnvLocks(context.store).held(env, now)
    freeze = freeze_at(context.spec.freeze, env, now, context.spec.timezone)
    if lock is None and freeze is None:
        return None
    texts = []
    if lock is not None:
        texts.append(lock_text(context, lock, now))
    if freeze is not None:
        texts.append(freeze_text(context, env, freeze))
    return Hold(env, lock, freeze, " ".join(texts))


def lock_text(context: BotContext, lock: EnvLock, now: datetime) -> str:
    zone = context.spec.timezone
    text = (
        f":lock: *{lock.env}* is locked by <@{lock.holder}> since "
        f"{format_time(lock.acquired_at, zone)} ({describe_duration(now - lock.acquired_at)} "
        f"ago): {escape(lock.reason)}"
    )
    if lock.expires_at is not None:
        text += f"; until {format_time(lock.expires_at, zone)}"
    return text + f". `/stagger unlock {lock.env}` ends it."


def freeze_text(context: BotContext, env: str, freeze: Freeze) -> str:
    return (
        f":snowflake: *{env}* is in a freeze window until "
        f"{format_time(freeze.until, context.spec.timezone)}: {escape(freeze.reason)}."
    )


def hold_lines(context: BotContext, env: str, now: datetime) -> list[str]:
    """The lock, the freeze in force and those starting within a day: for `status` and
    App Home."""
    lines = []
    lock = EnvLocks(context.store).held(env, now)
    if lock is not None:
        lines.append(lock_text(context, lock, now) + f" {ROLLBACKS_GO}")
    zone = context.spec.timezone
    for freeze in freezes_within(context.spec.freeze, env, now, zone, UPCOMING):
        if freeze.start <= now:
            lines.append(freeze_text(context, env, freeze) + f" {ROLLBACKS_GO}")
        else:
            lines.append(
                f":snowflake: *{env}* freezes from {format_time(freeze.start, zone)} until "
                f"{format_time(freeze.until, zone)}: {escape(freeze.reason)}."
            )
    return lines
