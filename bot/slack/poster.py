"""Posting to the channel: Slack's Web API in production, the terminal for the CLI."""

from __future__ import annotations

import itertools
import logging
from typing import Any, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.core.clock import Clock, SystemClock, format_time
from bot.core.replies import Block
from bot.render.message_caps import TEXT_LIMIT, cap, combined
from bot.store.outbox import Outbox

logger = logging.getLogger(__name__)


def web_client(token: str, base_url: str, *, timeout: int = 10) -> WebClient:
    """A WebClient that honours 429 Retry-After and retries 5xx and connection errors."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=5),
            ServerErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=3),
        ],
    )


class SlackPoster:
    """Posts through the Web API. With an outbox, a post or update Slack still refuses
    after the client's retries is queued, and `flush` delivers it later."""

    def __init__(
        self, client: WebClient, outbox: Outbox | None = None, clock: Clock | None = None
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._clock = clock or SystemClock()

    def _queue(
        self,
        method: str,
        arguments: dict[str, Any],
        error: Exception,
        request_id: str | None = None,
    ) -> None:
        if self._outbox is None:
            return
        self._outbox.enqueue(method, arguments, self._clock.now(), _describe(error), request_id)
        logger.warning("Slack refused a %s; queued to be delivered later", method)

    def flush(self) -> int:
        """The queued calls, oldest first; stops at the first Slack still refuses for now.
        One it refuses for good is delivered as its text alone, or dropped (the log and
        the outbox say so) where even that is refused: it never holds up those after it."""
        if self._outbox is None:
            return 0
        sent = 0
        for call in self._outbox.pending():
            arguments = dict(call.arguments)
            if call.method == "post":
                arguments["text"] = (
                    f"_(delayed: Slack was unavailable at {format_time(call.queued_at)})_\n"
                    + arguments["text"]
                )
            try:
                ts = self._deliver(call.method, arguments)
            except (SlackApiError, OSError) as error:
                why = _describe(error)
                if why not in REFUSED_FOR_GOOD:
                    self._outbox.failed_again(call.id, why)
                    logger.warning("queued %s still refused: %s", call.method, why)
                    break  # Slack is still down: keep the order, try again later
                try:
                    ts = self._deliver(call.method, text_only(arguments, why, call.request_id))
                except (SlackApiError, OSError) as again:
                    if _describe(again) not in REFUSED_FOR_GOOD:
                        self._outbox.failed_again(call.id, _describe(again))
                        break
                    self._outbox.dropped(call.id, self._clock.now(), _describe(again))
                    logger.error(
                        "queued %s dropped: Slack refuses it for good (%s)",
                        call.method, _describe(again),
                    )  # fmt: skip
                    continue
                logger.warning(
                    "queued %s delivered as text only: Slack refused %s", call.method, why
                )
            self._outbox.delivered(call, self._clock.now(), str(ts) if ts else None)
            sent += 1
        return sent

    def _deliver(self, method: str, arguments: dict[str, Any]) -> Any:
        if method == "post":
            return self._client.chat_postMessage(**arguments).get("ts")
        return self._client.chat_update(**arguments).get("ts")

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        request_id: str | None = None,
    ) -> str | None:
        """A post too big for a message (`bot.render.message_caps`) is its summary, and the
        full text follows as a file in the summary's thread (or the thread it is in)."""
        capped = cap(text, blocks)
        ts = self._post_message(
            channel, capped.text, capped.blocks, thread_ts, broadcast, request_id
        )
        if capped.file is not None and not self.upload(
            channel, capped.file, capped.filename, capped.title, thread_ts=thread_ts or ts
        ):
            # Not lost: the whole of it as one message of sections, queued if Slack is down.
            whole, sections = combined([text], [])
            self._post_message(channel, whole, sections, thread_ts or ts, False, None)
        return ts

    def _post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None,
        thread_ts: str | None,
        broadcast: bool,
        request_id: str | None,
    ) -> str | None:
        arguments: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            arguments["blocks"] = blocks
        if thread_ts:
            arguments["thread_ts"] = thread_ts
            arguments["reply_broadcast"] = broadcast
        try:
            ts = self._send("post", arguments, request_id)
        except (SlackApiError, OSError) as error:
            logger.error("chat.postMessage to %s failed: %s", channel, _describe(error))
            self._queue("post", arguments, error, request_id)
            return None
        return str(ts) if ts else None

    def _send(self, method: str, arguments: dict[str, Any], request_id: str | None) -> Any:
        """One call; one Slack refuses for good is sent again as its text alone, queued so
        if that one is refused too: the outbox tries it once more, and one refused for
        good then is dropped and audited (`jobs.deliver_outbox`) — never lost unsaid."""
        try:
            return self._deliver(method, arguments)
        except SlackApiError as error:
            why = _describe(error)
            if why not in REFUSED_FOR_GOOD:
                raise
            logger.error("Slack refused a %s (%s): sent as its text alone", method, why)
            degraded = text_only(arguments, why, request_id)
            try:
                return self._deliver(method, degraded)
            except SlackApiError as again:
                if _describe(again) in REFUSED_FOR_GOOD:
                    logger.error("Slack refused a %s for good: %s", method, _describe(again))
                self._queue(method, degraded, again, request_id)
                return None

    def update(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> bool:
        arguments: dict[str, Any] = {
            "channel": channel,
            "ts": ts,
            "text": text,
            "blocks": blocks or [],
        }
        try:
            updated = self._send("update", arguments, None)
        except (SlackApiError, OSError) as error:
            logger.error("chat.update of %s failed: %s", ts, _describe(error))
            self._queue("update", arguments, error)
            return False
        return updated is not None

    def ephemeral(self, channel: str, user: str, text: str) -> bool:
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, OSError) as error:
            logger.error("chat.postEphemeral failed: %s", _describe(error))
            return False
        return True

    def upload(
        self,
        channel: str,
        content: bytes,
        filename: str,
        title: str,
        *,
        thread_ts: str | None = None,
        comment: str | None = None,
    ) -> bool:
        try:
            self._client.files_upload_v2(
                channel=channel,
                content=content,
                filename=filename,
                title=title,
                thread_ts=thread_ts,
                initial_comment=comment,
            )
        except (SlackApiError, SlackRequestError, OSError) as error:
            logger.error("upload of %s failed: %s", filename, _describe(error))
            return False
        return True

    def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        try:
            self._client.views_publish(user_id=user, view=view)
        except (SlackApiError, OSError) as error:
            logger.error("views.publish failed: %s", _describe(error))
            return False
        return True


# What Slack refuses in the call itself: sending it again never helps.
REFUSED_FOR_GOOD = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
    }
)


def text_only(arguments: dict[str, Any], why: str, request_id: str | None = None) -> dict[str, Any]:
    """A message as its text alone, within Slack's 40,000 characters, saying so — and,
    for a request's, how to decide it without its buttons."""
    instead = (
        f": `/stagger approve {request_id}` or `/stagger deny {request_id}`" if request_id else ""
    )
    note = (
        f"\n_(shown as text only: Slack refused this message ({why}); its buttons are gone"
        f"{instead})_"
    )
    text = str(arguments.get("text", ""))
    if len(text) + len(note) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - len(note) - 40] + "\n_… cut to fit one Slack message._"
    degraded = {key: value for key, value in arguments.items() if key != "blocks"}
    if "ts" in arguments:
        degraded["blocks"] = []  # an update's blocks replace the message's: none are left
    return {**degraded, "text": text + note}


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error", "unknown Slack error"))
    return type(error).__name__


class ConsolePoster:
    """Prints posts for `stagger-bot cmd`; threads are shown indented."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._counter = itertools.count(1)

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        request_id: str | None = None,
    ) -> str | None:
        prefix = "  ↳ " if thread_ts else f"[{channel}] "
        self._out.write(prefix + text.replace("\n", "\n" + " " * len(prefix)) + "\n")
        self._out.flush()
        return f"console.{next(self._counter)}"

    def update(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> bool:
        self._out.write(f"[{channel}] (updated) {text}\n")
        return True

    def ephemeral(self, channel: str, user: str, text: str) -> bool:
        self._out.write(f"(only <@{user}> sees) {text}\n")
        return True

    def upload(
        self,
        channel: str,
        content: bytes,
        filename: str,
        title: str,
        *,
        thread_ts: str | None = None,
        comment: str | None = None,
    ) -> bool:
        prefix = "  ↳ " if thread_ts else f"[{channel}] "
        note = f"{comment}\n{' ' * len(prefix)}" if comment else ""
        self._out.write(f"{prefix}{note}[file {filename}: {title}, {len(content)} bytes]\n")
        self._out.flush()
        return True

    def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        return True

    def flush(self) -> int:
        return 0
