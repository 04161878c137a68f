"""`/stagger phase <name> [--force --reason TEXT]`: request a named phase."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.core.spec_rollout import PhaseSpec
from bot.rollout.context import BotContext
from bot.rollout.transitions import Transitions
from commands.parsing import Parsed, parse_options, single_line

NAME = "phase"
USAGE = "phase <name> [--force --reason TEXT]"
SUMMARY = "Request a named phase; out of order only with --force (one approval more)."


def target_env(context: BotContext, words: list[str]) -> str | None:
    """The named phase's env; None for a name that is no phase (`run` says so)."""
    positionals = parse_options(words, NAME, ("--reason",), ("--force",)).positionals
    target = context.spec.phase(positionals[0].lower()) if positionals else None
    return target.env if target is not None else None


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    parsed = parse_options(words, NAME, ("--reason",), ("--force",))
    known = ", ".join(f"`{phase.name}`" for phase in context.spec.phases)
    if not parsed.positionals:
        raise UsageError(f"Which phase? Known: {known}.", NAME)
    if len(parsed.positionals) > 1:
        raise UsageError(f"Unexpected `{parsed.positionals[1]}`.", NAME)
    target = context.spec.phase(parsed.positionals[0].lower())
    if target is None:
        raise UsageError(f"Unknown phase `{parsed.positionals[0][:48]}`. Known: {known}.", NAME)
    return request_phase(context, invocation, parsed, target)


def request_phase(
    context: BotContext,
    invocation: Invocation,
    parsed: Parsed,
    target: PhaseSpec,
    command: str = NAME,
) -> Reply:
    """The request for `target`, with `--force` and `--reason` as typed in `command`."""
    force = "--force" in parsed.options
    reason = single_line(parsed.options.get("--reason", ""), "reason")
    if force and not reason:
        raise UsageError("`--force` needs `--reason TEXT`, saying why.", command)
    return Transitions(context).request(
        invocation.user,
        invocation.source,
        target,
        force=force,
        reason=reason,
        channel=invocation.channel or context.spec.channel,
    )
