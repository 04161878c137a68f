"""Slack-signed requests live in `bot.slack_signing` (the rehearsal sends them too)."""

from bot.slack_signing import (
    HttpReply,
    SlackSender,
    block_action_body,
    signature,
    slash_command_body,
)

__all__ = ["HttpReply", "SlackSender", "block_action_body", "signature", "slash_command_body"]
