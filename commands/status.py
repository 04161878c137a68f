"""`/stagger status [env]`: each environment's phase, flag, and what is in flight."""

from __future__ import annotations

from bot.clock import describe_duration, isoformat
from bot.context import BotContext
from bot.errors import UsageError
from bot.replies import Invocation, Reply
from commands.parsing import require_env

NAME = "status"
USAGE = "status [env]"
SUMMARY = "Phase, stagger flag and open requests of each environment."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    envs = [require_env(context.spec, words[0], NAME)] if words else list(context.spec.environments)
    now = context.clock.now()
    lines: list[str] = []
    for env in envs:
        environment = context.spec.environments[env]
        state = context.store.env_state(env)
        flag = {True: "ON", False: "OFF", None: "UNKNOWN"}[state.stagger_enabled]
        since = (
            f" since {isoformat(state.since)} ({describe_duration(now - state.since)})"
            if state.since
            else ""
        )
        lines.append(
            f"*{env}* — phase *{state.phase}*{since}; stagger {flag}; "
            f"{len(environment.hosts)} host(s)"
        )
        if state.disabled_jobs:
            lines.append("   jobs rolled back to :00: " + ", ".join(state.disabled_jobs))
        if state.note:
            lines.append(f"   note: {state.note}")
        for request in context.store.open_requests(env):
            lines.append(
                f"   `{request.id}` {request.description} — {request.status.value}, "
                f"{len(request.approved_by)}/{request.required} approvals, "
                f"requested by <@{request.requester}>"
            )
    return Reply(text="\n".join(lines))
