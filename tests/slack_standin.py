"""The Slack Web API stand-in lives in `bot.rehearsal.slack_standin` (the rehearsal uses it too)."""

from bot.rehearsal.slack_standin import ApiCall, SlackStandIn

__all__ = ["ApiCall", "SlackStandIn"]
