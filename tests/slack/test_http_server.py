"""The HTTP server's life cycle: it stops cleanly while clients still hold connections."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterable
from typing import Any

from bot.slack.http_server import create_http_server, stop_http_server
from tests.support.bot_process import wait_until


def _hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def test_server_stops_with_keep_alive_clients_connected_and_no_error_in_its_thread() -> None:
    # Closing sockets from outside the loop's thread raced its select() (EBADF in CI);
    # pytest turns an exception in any thread into a failure, so each round must be clean.
    for _ in range(25):
        server = create_http_server(_hello, "127.0.0.1", 0, threads=2)
        serving = threading.Thread(target=server.run, daemon=True)
        serving.start()
        connections = [
            http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
            for _ in range(3)
        ]
        for connection in connections:
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"hello"

        stop_http_server(server, serving)

        assert not serving.is_alive()
        for connection in connections:
            connection.close()


def test_a_stopped_server_refuses_new_connections() -> None:
    server = create_http_server(_hello, "127.0.0.1", 0, threads=1)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    port = server.effective_port

    stop_http_server(server, serving)

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        raised = None
    except ConnectionRefusedError as error:
        raised = error
    finally:
        connection.close()
    assert isinstance(raised, ConnectionRefusedError)


def test_a_request_in_flight_is_answered_before_the_server_stops() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started.set()
        release.wait(timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]

    server = create_http_server(slow, "127.0.0.1", 0, threads=2)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    answers: list[bytes | Exception] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        try:
            connection.request("GET", "/")
            answers.append(connection.getresponse().read())
        except Exception as error:  # the answer the user would not get
            answers.append(error)
        finally:
            connection.close()

    client = threading.Thread(target=ask)
    client.start()
    assert started.wait(timeout=10)
    port = server.effective_port
    stopper = threading.Thread(target=stop_http_server, args=(server, serving))
    stopper.start()
    # The stop has begun (no new connections) while the request is still being served.
    wait_until(lambda: _refused(port), what="the server to stop taking connections")
    release.set()
    client.join(timeout=20)
    stopper.join(timeout=20)

    assert answers == [b"done"]
    assert not serving.is_alive()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False
