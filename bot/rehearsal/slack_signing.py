"""Requests to the bot, signed exactly as Slack signs them, in Slack's encodings: what the
tests and the rehearsal's simulated users send."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


TEAM_ID, APP_ID = "T0TEAM", "A0APP"  # the workspace and app every request names


def slash_command_body(
    user: str,
    text: str,
    channel: str = "C0ROLLOUT",
    trigger_id: str | None = None,
    *,
    team_id: str = TEAM_ID,
    app_id: str = APP_ID,
) -> str:
    return urllib.parse.urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": "rollout",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/stagger",
            "text": text,
            "api_app_id": app_id,
            "response_url": "https://hooks.slack.example.com/commands/T0TEAM/1/abc",
            "trigger_id": trigger_id or f"{secrets.randbelow(10**12)}.{secrets.token_hex(8)}",
        }
    )


def block_action_body(
    user: str,
    action_id: str,
    value: str,
    channel: str = "C0ROLLOUT",
    message_ts: str = "1.0",
    trigger_id: str | None = None,
    *,
    team_id: str = TEAM_ID,
    app_id: str = APP_ID,
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "example"},
        "user": {"id": user, "username": user.lower(), "team_id": team_id},
        "api_app_id": app_id,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": trigger_id or f"{secrets.randbelow(10**12)}.{secrets.token_hex(8)}",
        "channel": {"id": channel, "name": "rollout"},
        "message": {"ts": message_ts, "type": "message", "text": "approval"},
        "response_url": "https://hooks.slack.example.com/actions/T0TEAM/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"approval:{value}",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


@dataclass
class HttpReply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class SlackSender:
    """Sends requests to the bot's /slack/events as Slack would."""

    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        self.secret = secret

    def send(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        sign_with: str | None = None,
        retry_num: int | None = None,
        signature_header: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> HttpReply:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature_header
            if signature_header is not None
            else signature(sign_with or self.secret, stamp, body),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("POST", "/slack/events", body=body.encode(), headers=headers)
            response = connection.getresponse()
            return HttpReply(response.status, response.read().decode())
        finally:
            connection.close()

    def command(self, user: str, text: str, **kwargs: Any) -> HttpReply:
        trigger = kwargs.pop("trigger_id", None)
        return self.send(slash_command_body(user, text, trigger_id=trigger), **kwargs)

    def click(self, user: str, action_id: str, value: str, **kwargs: Any) -> HttpReply:
        message_ts = kwargs.pop("message_ts", "1.0")
        trigger = kwargs.pop("trigger_id", None)
        return self.send(
            block_action_body(user, action_id, value, message_ts=message_ts, trigger_id=trigger),
            **kwargs,
        )

    def get(self, path: str) -> HttpReply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return HttpReply(response.status, response.read().decode())
        finally:
            connection.close()

    def event(self, event: dict[str, Any], **kwargs: Any) -> HttpReply:
        """An Events API delivery (JSON), as Slack sends `app_home_opened` and the like."""
        body = json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "api_app_id": APP_ID,
                "type": "event_callback",
                "event_id": f"Ev{int(time.time() * 1000)}",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        return self.send(body, content_type="application/json", **kwargs)
