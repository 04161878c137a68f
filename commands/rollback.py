"""`/stagger rollback <env> [job] [--reason TEXT]`: turn the stagger off, after approval."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.actions import Actions
from bot.rollout.context import BotContext
from commands.parsing import parse_options, require_env, single_line

NAME = "rollback"
USAGE = "rollback <env> [job] [--reason TEXT]"
SUMMARY = "Turn the stagger off on every host of an environment (or for one job), after approval."


def target_env(context: BotContext, words: list[str]) -> str:
    parsed = parse_options(words, NAME, ("--reason",))
    return require_env(context.spec, parsed.positionals[0] if parsed.positionals else None, NAME)


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    parsed = parse_options(words, NAME, ("--reason",))
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
    return Actions(context).request_rollback(
        invocation.user, invocation.source, env, job_key, reason
    )
