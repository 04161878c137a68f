"""`/stagger approve <id>`: the same as the Approve button."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.actions import Actions
from bot.rollout.context import BotContext
from commands.authorize import request_env

NAME = "approve"
USAGE = "approve <request-id>"
SUMMARY = "Approve a pending request (the env's approvers; from Slack only)."

# The request's env: where a refusal is audited.
target_env = request_env


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) != 1:
        raise UsageError("Give exactly one request id.", NAME)
    return Actions(context).approve(words[0], invocation.user, invocation.source)
