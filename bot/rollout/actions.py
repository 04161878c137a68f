"""Requesting, approving and denying actions (`Requests`, `Decisions`); execution lives in
`bot.rollout.execution`.

The approval policy is read from the spec at click time, so an approver list edited
while a request is pending is honoured. Every request, refusal, decision, SSH command
and result goes to the audit trail.
"""

from __future__ import annotations

from bot.rollout.decisions import Decisions
from bot.rollout.requests import Requests


class Actions(Requests, Decisions):
    """What commands, buttons and jobs ask of the rollout: one object over both halves."""
