"""The Slack side: a Bolt app whose listeners only adapt Slack payloads to `dispatch`.

A button click becomes the same invocation as typing `/stagger approve <id>`, so
Slack, the CLI and the rehearsal share one code path. Slow work (posting, SSH) runs
after the ack, on Bolt's listener thread.
"""

from __future__ import annotations

import logging
import shlex
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_sdk import WebClient

from bot.app_home import home_view
from bot.blocks import APPROVE_ACTION, DENY_ACTION, REQUEST_ROLLBACK_ACTION
from bot.context import BotContext
from bot.replies import Invocation, Reply
from commands import dispatch

logger = logging.getLogger(__name__)


def build_app(
    context: BotContext, signing_secret: str, client: WebClient, executor: Executor | None = None
) -> App:
    """`executor` runs listeners (and their slow work after the ack); shutting it down
    with wait=True lets an in-flight rollback finish before the process exits."""
    app = App(
        signing_secret=signing_secret,
        client=client,
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=executor,
    )

    @app.middleware
    def drop_repeats(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """A Slack retry carries the trigger_id of the first delivery: run it once."""
        trigger = body.get("trigger_id")
        if trigger and not context.store.first_time(f"trigger:{trigger}", context.clock.now()):
            logger.info("dropping a repeated delivery of trigger %s", trigger)
            return BoltResponse(status=200, body="")
        next()
        return None

    @app.command("/stagger")
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        invocation = Invocation(
            user=str(command.get("user_id", "")),
            text=str(command.get("text", "")),
            source="slack",
            channel=command.get("channel_id"),
        )
        reply = dispatch(context, invocation)
        ack(
            text=reply.text,
            blocks=list(reply.blocks) or None,
            response_type="in_channel" if reply.public else "ephemeral",
        )
        run_followups(reply)

    def on_button(verb: str, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = str(body.get("user", {}).get("id", ""))
        channel = str(body.get("channel", {}).get("id") or context.spec.channel)
        value = str(action.get("value", ""))[:40]
        reply = dispatch(
            context, Invocation(user=user, text=f"{verb} {shlex.quote(value)}", channel=channel)
        )
        context.poster.ephemeral(channel, user, reply.text)
        run_followups(reply)

    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("approve", ack, body, action)

    @app.action(DENY_ACTION)
    def on_deny(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("deny", ack, body, action)

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            context.poster.publish_home(str(event["user"]), home_view(context, context.clock.now()))

    @app.action(REQUEST_ROLLBACK_ACTION)
    def on_request_rollback(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("rollback", ack, body, action)

    return app


def run_followups(reply: Reply) -> None:
    for followup in reply.followups:
        try:
            followup()
        except Exception:
            logger.exception("follow-up work failed")
