"""Serving the Bolt app over HTTP with waitress (a production WSGI server)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import wasyncore
from waitress.server import create_server

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(app: App, health: Callable[[], dict[str, Any]]) -> WsgiApp:
    slack = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps(health()).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        try:
            return slack(environ, start_response)
        except (ValueError, KeyError, TypeError, AttributeError):
            # Bolt reads the body before it checks the signature; a body it can't parse
            # (an empty or broken `payload`) is the sender's fault, not a server error.
            logger.warning("refused a request to /slack/events whose body could not be read")
            return _plain(start_response, "400 Bad Request", "the request body could not be read")

    return application


def _plain(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def create_http_server(application: WsgiApp, host: str, port: int, threads: int = 8) -> Any:
    """A waitress server, not yet running: call `.run()` (blocks) and `.close()`."""
    return create_server(application, host=host, port=port, threads=threads, ident="stagger-bot")


def stop_http_server(server: Any, serving: threading.Thread) -> None:
    """Stop a server whose `.run()` loop runs in the thread `serving`.

    Closing the sockets from this thread races the loop's `select()` (EBADF), so the
    close runs inside the loop's thread, woken by waitress's trigger; with its map
    empty the loop returns.
    """

    def close_everything() -> None:
        wasyncore.close_all(server._map)

    server.trigger.pull_trigger(close_everything)
    serving.join(timeout=10)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=10)
