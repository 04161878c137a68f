"""`/stagger deny <id> [reason]`: the same as the Deny button."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.actions import Actions
from bot.rollout.context import BotContext
from commands.authorize import request_env
from commands.parsing import single_line

NAME = "deny"
USAGE = "deny <request-id> [reason]"
SUMMARY = "Deny a pending request (approvers, or the requester to withdraw it; from Slack only)."

# The request's env: where a refusal is audited.
target_env = request_env


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if not words:
        raise UsageError("Which request?", NAME)
    reason = single_line(" ".join(words[1:]), "reason")
    return Actions(context).deny(words[0], invocation.user, invocation.source, reason)
