"""Which signed requests the app takes, checked after the signature and before any
listener: a body it could read, and, where SLACK_TEAM_ID and SLACK_APP_ID are set, from
that workspace and for that app (a signing secret leaked to, or shared with, another app
or an install elsewhere then still runs nothing here)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from bot.slack.events_request import UNREADABLE

logger = logging.getLogger(__name__)

Middleware = Callable[[BoltRequest, Callable[[], None]], BoltResponse | None]


def admission(team_id: str | None, app_id: str | None) -> Middleware:
    def admit(req: BoltRequest, next: Callable[[], None]) -> BoltResponse | None:
        unreadable = req.context.get(UNREADABLE)
        if unreadable:
            logger.warning("refused a signed request to /slack/events: %s", unreadable)
            return _refuse(400, f"the request body could not be read: {unreadable}")
        if req.body.get("type") not in _UNNAMED:
            refusal = _foreign(req.context.team_id, req.body.get("api_app_id"), team_id, app_id)
            if refusal:
                logger.warning("refused a request from Slack: %s", refusal)
                return _refuse(403, f"stagger-bot does not serve {refusal}")
        next()
        return None

    return admit


# Slack's check of the events URL names neither a workspace nor an app.
_UNNAMED = {"url_verification"}


def _foreign(team: str | None, app: Any, team_id: str | None, app_id: str | None) -> str | None:
    if team_id and team != team_id:
        return f"another workspace ({team or 'none named'}; this is {team_id})"
    if app_id and app != app_id:
        return f"another app ({app or 'none named'}; this is {app_id})"
    return None


def _refuse(status: int, text: str) -> BoltResponse:
    return BoltResponse(status=status, body=text, headers={"content-type": "text/plain"})
