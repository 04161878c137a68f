"""The Slack side: a Bolt app whose listeners only adapt Slack payloads to `dispatch`.

A button click becomes the same invocation as typing `/stagger approve <id>`, so
Slack, the CLI and the rehearsal share one code path. Slow work (posting, SSH) runs
after the ack, on Bolt's listener thread.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot.core.errors import StoreError
from bot.core.replies import Invocation, Reply
from bot.render.blocks import (
    ACKNOWLEDGE_ACTION,
    APPROVE_ACTION,
    DENY_ACTION,
    REQUEST_ROLLBACK_ACTION,
    RETRY_ACTION,
    SNOOZE_ACTION,
)
from bot.rollout.context import BotContext
from bot.slack.admission import admission
from bot.slack.app_home import home_view
from bot.store.store import Store
from commands import dispatch
from commands.parsing import straight_quotes

logger = logging.getLogger(__name__)


class _TokenFromEnvironment(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and, given a client too,
    warns on every start that it won't use it. The client carries no token on purpose
    (see `build_app`): the warning says nothing an operator can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return warning_client_prioritized_and_token_skipped() not in record.getMessage()


_QUIET_BOLT = _TokenFromEnvironment()


def build_app(
    context: BotContext,
    signing_secret: str,
    client: WebClient,
    executor: Executor,
    *,
    team_id: str | None = None,
    app_id: str | None = None,
) -> App:
    """Listeners run in the request's thread and return at once; their slow work (a
    rollback, a post) runs on `executor` after the HTTP answer. Shutting the executor
    down with wait=True lets an in-flight rollback finish before the process exits."""
    # process_before_response: Bolt's default hands each listener to a thread and polls
    # for its ack every 10 ms, which was most of a command's latency under load.
    # authorize: Bolt's single-workspace default calls auth.test on the request path, so
    # with the Web API down every command failed; the token is known, no call is needed.
    # Bolt copies its client for each request: given one without a token, it uses the
    # token `authorize` returns (given both, it would drop that one and warn).
    logging.getLogger("slack_bolt.App").addFilter(_QUIET_BOLT)  # added once, however often
    app = App(
        signing_secret=signing_secret,
        client=WebClient(
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=list(client.retry_handlers),
        ),
        authorize=_authorize_with(client.token),
        before_authorize=admission(team_id, app_id),
        process_before_response=True,
    )

    def in_background(work: Callable[[], object]) -> None:
        def logged() -> None:
            try:
                work()
            except Exception:
                logger.exception("work after the answer to Slack failed")

        executor.submit(logged)

    def later(reply: Reply, channel: str, user: str) -> None:
        if reply.followups:
            in_background(
                lambda: run_followups(
                    reply, lambda: context.poster.ephemeral(channel, user, FOLLOWUP_FAILED)
                )
            )

    @app.middleware
    def drop_repeats(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """A Slack retry carries the trigger_id of the first delivery: run it once."""
        trigger = body.get("trigger_id")
        try:
            repeated = bool(trigger) and not context.store.first_time(
                f"{Store.DELIVERY_KEY_PREFIX}{trigger}", context.clock.now()
            )
        except StoreError as error:
            # Answer anyway: reads may still work, and a command that must write says why.
            logger.warning("cannot check trigger %s for a repeat: %s", trigger, error)
            repeated = False
        if repeated:
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
        reply = dispatch(context, invocation, cap_reply=True)
        ack(
            text=reply.text,
            blocks=list(reply.blocks) or None,
            response_type="in_channel" if reply.public else "ephemeral",
        )
        later(reply, invocation.channel or context.spec.channel, invocation.user)

    def on_button(
        verb: str, ack: Ack, body: dict[str, Any], action: dict[str, Any], more: str = ""
    ) -> None:
        """`more`: the words the button adds after its value (the code's own text)."""
        ack()
        user = str(body.get("user", {}).get("id", ""))
        channel = str(body.get("channel", {}).get("id") or context.spec.channel)
        # Straightened before it is quoted, so that the dispatcher's reading of typographic
        # quotes cannot end the quoting: the value stays one word, whatever it holds.
        value = straight_quotes(str(action.get("value", ""))[:40])
        invocation = Invocation(
            user=user, text=f"{verb} {shlex.quote(value)}{more}", channel=channel
        )

        def click() -> None:
            reply = dispatch(context, invocation, cap_reply=True)
            context.poster.ephemeral(channel, user, reply.text)
            run_followups(reply, lambda: context.poster.ephemeral(channel, user, FOLLOWUP_FAILED))

        in_background(click)

    @app.action(APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("approve", ack, body, action)

    @app.action(DENY_ACTION)
    def on_deny(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("deny", ack, body, action)

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            user = str(event["user"])
            in_background(
                lambda: context.poster.publish_home(user, home_view(context, context.clock.now()))
            )

    @app.action(REQUEST_ROLLBACK_ACTION)
    def on_request_rollback(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("rollback", ack, body, action)

    @app.action(ACKNOWLEDGE_ACTION)
    def on_acknowledge(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("ack", ack, body, action)

    @app.action(SNOOZE_ACTION)
    def on_snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("silence", ack, body, action, f" 1h --reason {shlex.quote(SNOOZE_REASON)}")

    @app.action(RETRY_ACTION)
    def on_retry(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_button("retry", ack, body, action)

    return app


def _authorize_with(token: str | None) -> Callable[..., AuthorizeResult]:
    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token
        )

    return authorize


SNOOZE_REASON = "snoozed from the alert"

FOLLOWUP_FAILED = (
    ":warning: The work after that answer failed; what it said would follow will not. "
    "Nothing more was run for it. The bot's log has the details."
)


def run_followups(reply: Reply, failed: Callable[[], object] | None = None) -> None:
    """Run the reply's follow-ups; one that fails is logged, and `failed` tells the person
    waiting for what was promised."""
    for followup in reply.followups:
        try:
            followup()
        except Exception:
            logger.exception("follow-up work failed")
            if failed is not None:
                failed()
            return
