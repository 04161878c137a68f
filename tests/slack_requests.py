"""Slack-signed requests live in `bot.rehearsal.slack_signing` (the rehearsal sends them too)."""

from bot.rehearsal.slack_signing import (
    HttpReply,
    SlackSender,
    block_action_body,
    signature,
    slash_command_body,
)

__all__ = ["HttpReply", "SlackSender", "block_action_body", "signature", "slash_command_body"]
