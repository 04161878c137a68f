"""Serving the Bolt app over HTTP with waitress (a production WSGI server)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import wasyncore
from waitress.channel import HTTPChannel
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


def stop_http_server(
    server: Any, serving: threading.Thread | None = None, drain_s: float = 30.0
) -> None:
    """Stop a server whose `.run()` loop runs in another thread (`serving`, or the main
    thread when this is called from a SIGTERM's helper thread): no new connections, the
    requests in flight answered (up to `drain_s`), then every connection closed.

    Closing sockets from outside the loop's thread races its `select()` (EBADF), so each
    close runs inside the loop, woken by waitress's trigger; with its map empty the loop
    returns.
    """
    # Not BaseWSGIServer.close: that also closes the trigger the workers still pull.
    if _in_loop(server, lambda: wasyncore.dispatcher.close(server)):
        deadline = time.monotonic() + drain_s
        pause = threading.Event()
        while _in_flight(server) and time.monotonic() < deadline:
            pause.wait(0.05)
        _in_loop(server, lambda: wasyncore.close_all(server._map))
    if serving is not None:
        serving.join(timeout=10)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=10)


def _in_loop(server: Any, thunk: Callable[[], object]) -> bool:
    """Runs `thunk` in the server's loop; False if the loop has already closed its trigger
    (it is stopping by itself)."""
    try:
        server.trigger.pull_trigger(thunk)
    except OSError:
        logger.info("the HTTP server's loop had already stopped")
        return False
    return True


def _in_flight(server: Any) -> bool:
    """Requests queued or being served, or answers not yet sent."""
    dispatcher = server.task_dispatcher
    if dispatcher.queue or dispatcher.active_count:
        return True
    return any(
        isinstance(channel, HTTPChannel) and (channel.requests or channel.total_outbufs_len)
        for channel in list(server._map.values())
    )
