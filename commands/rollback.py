"""`/stagger rollback <env> [job] [--reason TEXT] [--now]`: turn the stagger off, after
approval — or, with `--now`, at once (break-glass: the spec's `break_glass` users, from
Slack, with a reason)."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.actions import Actions
from bot.rollout.break_glass import BreakGlass
from bot.rollout.context import BotContext
from commands.parsing import Parsed, parse_options, require_env, single_line

NAME = "rollback"
USAGE = "rollback <env> [job] [--reason TEXT] [--now]"
SUMMARY = (
    "Turn the stagger off on every host of an environment (or for one job), after approval; "
    "`--now --reason TEXT`: at once, for the break-glass users."
)


def _parse(words: list[str]) -> Parsed:
    return parse_options(words, NAME, ("--reason",), flags=("--now",))


def target_env(context: BotContext, words: list[str]) -> str:
    parsed = _parse(words)
    return require_env(context.spec, parsed.positionals[0] if parsed.positionals else None, NAME)


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    parsed = _parse(words)
    if len(parsed.positionals) > 2:
        raise UsageError(f"Unexpected `{parsed.positionals[2]}`.", NAME)
    env = target_env(context, words)
    job_key: str | None = None
    if len(parsed.positionals) == 2:
        job = context.spec.job(parsed.positionals[1])
        if job is None:
            known = ", ".join(f"`{job.key}`" for job in context.spec.jobs)
            raise UsageError(f"Unknown job `{parsed.positionals[1]}`. Known: {known}.", NAME)
        job_key = job.key
    reason = single_line(parsed.options.get("--reason", ""), "reason")
    if "--now" in parsed.options:
        if not reason:
            raise UsageError(
                "`--now` needs `--reason TEXT`: a rollback with no approval says why, "
                "to the whole channel.",
                NAME,
            )
        return BreakGlass(context).rollback_now(
            invocation.user, invocation.source, env, job_key, reason
        )
    return Actions(context).request_rollback(
        invocation.user, invocation.source, env, job_key, reason
    )
