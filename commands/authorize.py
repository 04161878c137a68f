"""The dispatcher's check of the authorization matrix (`bot.core.authorization`) before
any command runs, and how a command tells it the env it acts on.

A command module that acts on one env defines `target_env(context, words)`: the env its
words name (for `advance` and `phase`, the target phase's), or None where they name none.
A command without it counts as acting on every env.
"""

from __future__ import annotations

from types import ModuleType

from bot.core.authorization import MATRIX, Access, command_of, may_run, subcommands
from bot.core.errors import NotAllowed, UsageError
from bot.core.replies import Invocation
from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry


def authorize(
    context: BotContext, invocation: Invocation, module: ModuleType, words: list[str]
) -> None:
    """Returns when the caller may run the command; otherwise audits `<command>.refused`
    with the reason and raises NotAllowed saying who may."""
    name: str = module.NAME
    command = command_of(name, words)
    if command not in MATRIX and subcommands(name):
        choices = " or ".join(f"`{word}`" for word in subcommands(name))
        raise UsageError(f"Say {choices}.", name)
    rule = MATRIX.get(command)
    env: str | None = None
    if rule is not None and rule.access is not Access.ANYONE and hasattr(module, "target_env"):
        env = module.target_env(context, words)
    decision = may_run(context.spec, command, env, invocation.user, invocation.source)
    if decision.allowed:
        return
    context.record(
        AuditEntry(
            invocation.user,
            invocation.source,
            f"{command.replace(' --', ' ').replace(' ', '.')}.refused",
            env,
            {"text": invocation.text[:200]},
            "refused",
            decision.reason,
        )
    )
    raise NotAllowed(decision.answer)


def request_env(context: BotContext, words: list[str]) -> str | None:
    """`target_env` for a command whose first word is a request id: the request's env."""
    request = context.store.request(words[0].strip()) if words else None
    return request.env if request is not None else None
