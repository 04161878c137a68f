"""`/stagger recover <id>`: report an execution interrupted whose owner is gone, now."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import recover_request
from commands.authorize import request_env

NAME = "recover"
USAGE = "recover <request-id>"
SUMMARY = (
    "Free the env of an execution whose owner is gone (its lease lapsed): reported "
    "interrupted, never re-run."
)

target_env = request_env


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) != 1:
        raise UsageError("Give exactly one request id.", NAME)
    return recover_request(context, invocation.user, invocation.source, words[0])
