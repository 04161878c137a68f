"""`/stagger help`: every command with its usage."""

from __future__ import annotations

from bot.core.errors import UserError
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from commands.registry import COMMANDS, close_names, usage_text

NAME = "help"
USAGE = "help [command]"
SUMMARY = "Show the commands, or one command's usage."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if words and words[0].lower() in COMMANDS:
        return Reply(text=usage_text(words[0].lower()))
    if words:
        raise UserError(f"There is no command `{words[0][:40]}`. {close_names(words[0][:40])}")
    lines = ["*stagger-bot* — the job-stagger rollout, from Slack.", ""]
    for module in COMMANDS.values():
        lines.append(f"`/stagger {module.USAGE}` — {module.SUMMARY}")
    return Reply(text="\n".join(lines))
