"""What a replica serves while its store has not answered since it started: /healthz
says 503 and why, a signed slash command is answered that the store is down (one line,
nothing done), a button or event is acknowledged and dropped. Once the store answers,
`bot.serving` switches to the real app (`SwitchableApp`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.slack.events_request import UnreadableBody, read_body
from bot.slack.http_server import StartResponse, WsgiApp, _body, _headers, _plain
from commands import STORE_DOWN

logger = logging.getLogger(__name__)


class SwitchableApp:
    """A WSGI app whose target is replaced while the server runs (one attribute write:
    a request sees the old app or the new, never half of either)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)


def store_down_app(signing_secret: str, health: Callable[[], dict[str, Any]]) -> WsgiApp:
    verifier = SignatureVerifier(signing_secret)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method == "GET":
            return _json(start_response, "503 Service Unavailable", health())
        if path != "/slack/events" or method != "POST":
            return _plain(start_response, "404 Not Found", "not found")
        raw = _body(environ)
        headers = _headers(environ)
        if not verifier.is_valid_request(raw, headers):
            return _plain(start_response, "401 Unauthorized", "invalid signature")
        try:
            body = read_body(raw.decode("utf-8"), headers.get("content-type"))
        except (UnicodeDecodeError, UnreadableBody):
            return _plain(start_response, "400 Bad Request", "the request body could not be read")
        if body.get("type") == "url_verification":
            return _json(start_response, "200 OK", {"challenge": body.get("challenge")})
        if "command" not in body:  # a click or an event: acknowledged, nothing done
            logger.warning("the store is down: dropped a %s", body.get("type") or "request")
            return _plain(start_response, "200 OK", "")
        problem = str(health().get("store", "unreachable"))
        reply = {"response_type": "ephemeral", "text": STORE_DOWN.format(error=problem)}
        return _json(start_response, "200 OK", reply)

    return application


def _json(start_response: StartResponse, status: str, value: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(value).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
