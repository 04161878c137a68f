"""`/stagger advance [--force --reason TEXT]`: request the next phase, gates permitting."""

from __future__ import annotations

from bot.core.errors import UsageError, UserError
from bot.core.phases import next_phase, position
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.store.timeline import Timeline
from commands.parsing import parse_options
from commands.phase import request_phase

NAME = "advance"
USAGE = "advance [--force --reason TEXT]"
SUMMARY = "Request the next phase; its gates are checked and shown, then approvers decide."


def target_env(context: BotContext, words: list[str]) -> str | None:
    """The next phase's env; None where there is none (`run` says so)."""
    target = next_phase(context.spec, Timeline(context.store).current())
    return target.env if target is not None else None


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    parsed = parse_options(words, NAME, ("--reason",), ("--force",))
    if parsed.positionals:
        raise UsageError(
            f"Unexpected `{parsed.positionals[0]}` (for a named phase: `/stagger phase NAME`).",
            NAME,
        )
    current = Timeline(context.store).current()
    target = next_phase(context.spec, current)
    if target is None:
        raise UserError(
            f"There is no phase after *{position(current)}*."
            + (
                " To resume, name one: `/stagger phase NAME --force --reason TEXT`."
                if current is not None and current.is_terminal
                else ""
            )
        )
    return request_phase(context, invocation, parsed, target, NAME)
