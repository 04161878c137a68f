"""stagger-bot served as in production (the Bolt app behind waitress, a real store) and
driven as Slack users drive it: signed HTTP requests in, Web API calls to the stand-in out."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.core.approvals import ApprovalRequest
from bot.core.clock import Clock, ManualClock
from bot.core.ports import Transport
from bot.core.spec import Spec
from bot.rehearsal.slack_signing import HttpReply, SlackSender
from bot.rehearsal.slack_standin import SlackStandIn
from bot.rollout.context import BotContext
from bot.runtime import build_context
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.http_server import create_http_server, wsgi_app
from bot.slack.poster import web_client
from bot.store.store import Store
from tests.support.spec_data import AUDIT_KEY, BOT_TOKEN, SIGNING_SECRET

ClockT = TypeVar("ClockT", bound=Clock)


@dataclass
class ServedBot(Generic[ClockT]):
    """Drives stagger-bot as Slack users do: signed HTTP requests in, Web API calls out."""

    context: BotContext
    slack: SlackStandIn
    sender: SlackSender
    clock: ClockT
    app_dir: Path

    @property
    def store(self) -> Store:
        return self.context.store

    def command(self, user: str, text: str, **kwargs: Any) -> HttpReply:
        return self.sender.command(user, text, **kwargs)

    def click(self, user: str, action_id: str, request_id: str, **kwargs: Any) -> HttpReply:
        return self.sender.click(user, action_id, request_id, **kwargs)

    def request(self, request_id: str) -> ApprovalRequest:
        """The stored request, which the test knows exists."""
        request = self.context.store.request(request_id)
        assert request is not None, f"no request {request_id}"
        return request

    def request_id_from(self, text: str) -> str:
        for word in text.replace("`", " ").split():
            if word.startswith("R") and len(word) == 6 and word.isupper():
                return word
        raise AssertionError(f"no request id in {text!r}")

    def env_file(self) -> bytes:
        return (self.app_dir / ".env").read_bytes()


# The tests' bot runs on a clock they set; the benchmarks' (ServedBot[SystemClock]) on time.
Bot = ServedBot[ManualClock]


def start_bot(
    tmp_path: Path,
    slack: SlackStandIn,
    clock: ClockT,
    spec: Spec,
    app_dir: Path,
    transport: Transport | None = None,
    slack_timeout_s: int = 10,
    db_busy_timeout_s: float = 10.0,
    environ: Mapping[str, str] | None = None,
) -> tuple[ServedBot[ClockT], Any, threading.Thread]:
    """`environ`: more of the process environment `Settings` reads (SLACK_TEAM_ID, ...)."""
    settings = Settings.from_environ(
        {
            **(environ or {}),
            # A test may name another store (a PostgreSQL DSN); else a file in its folder.
            "STAGGER_DB": (environ or {}).get("STAGGER_DB") or str(tmp_path / "stagger.db"),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "SLACK_TIMEOUT_S": str(slack_timeout_s),
            "STAGGER_DB_BUSY_TIMEOUT_S": str(db_busy_timeout_s),
            "STAGGER_AUDIT_KEY": AUDIT_KEY,
        }
    )
    client = web_client(BOT_TOKEN, settings.slack_api_url, timeout=settings.slack_timeout_s)
    context = build_context(settings, spec, slack_client=client, clock=clock, transport=transport)
    executor = ThreadPoolExecutor(max_workers=8)
    app = build_app(
        context, SIGNING_SECRET, client, executor,
        team_id=settings.slack_team_id, app_id=settings.slack_app_id,
    )  # fmt: skip
    server = create_http_server(wsgi_app(app, lambda: {"ok": True}), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    sender = SlackSender(server.effective_port, SIGNING_SECRET)
    bot = ServedBot(context, slack, sender, clock, app_dir)
    return bot, (server, executor), thread
