"""`/stagger retry <request-id>`: the same change again, on exactly the hosts of that
execution that failed or never started (the button `Retry the N failed and M
not-started hosts`)."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.rollout.retries import Retries
from commands.authorize import request_env

NAME = "retry"
USAGE = "retry <request-id>"
SUMMARY = (
    "Run a change that failed on some hosts again on exactly its failed and not-started "
    "hosts (under its approval while that is unexpired, else a new one)."
)

target_env = request_env


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) != 1:
        raise UsageError("Give exactly one request id.", NAME)
    return Retries(context).retry(invocation.user, invocation.source, words[0])
