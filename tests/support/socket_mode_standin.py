"""Slack's Socket Mode end on loopback: a WebSocket server that greets the bot with
`hello`, sends it envelopes as Slack would, and hands back the bot's acks.

With the Web API stand-in answering `apps.connections.open` with this server's ws://
URL, `stagger-bot socket` connects here instead of to Slack (slack_sdk's client speaks
plain ws:// to a port other than 443, for testing).
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.parse
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve


class SocketModeStandIn:
    def __init__(self) -> None:
        self._outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._server: Server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"

    def _session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        sender = threading.Thread(target=self._send_queued, args=(connection,), daemon=True)
        sender.start()
        for message in connection:
            self.acks.put(json.loads(message))

    def _send_queued(self, connection: ServerConnection) -> None:
        while True:
            envelope = self._outgoing.get()
            connection.send(json.dumps(envelope))

    def slash_command(self, envelope_id: str, form_body: str) -> None:
        """Sends a `/stagger` command as Slack does in Socket Mode."""
        payload = {key: values[-1] for key, values in urllib.parse.parse_qs(form_body).items()}
        self._outgoing.put(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "payload": payload,
                "accepts_response_payload": True,
            }
        )

    def ack_for(self, envelope_id: str, timeout: float = 20.0) -> dict[str, Any]:
        while True:
            ack = self.acks.get(timeout=timeout)
            if ack.get("envelope_id") == envelope_id:
                return ack

    def close(self) -> None:
        self._server.shutdown()
