"""One command makes at most three channel posts: messages (thread replies too) and files,
its reply's file, its follow-ups' and its execution's posts through to the outcome
(ephemerals and updates don't count) — except its alarms.

`commands.dispatch` gives each invocation's context a `PostBudget` over the bot's poster.
The posts go out as they come while they fit in the three. Past them, a post is added to
the command's latest message in the same thread (`chat.update`: in order, its buttons
kept), so nothing is lost or reordered and no thread's post shows up in another. A post
too big for a message costs two (its summary, and the file `bot.render.message_caps` makes
of it).

Alarms — broadcast posts, and posts offering a rollback (a failure, a failed rollback) —
always go out on their own, broadcast as asked, past the three if need be: nobody is
notified of an edit. A request's message is never added to (its approval rewrites it), and
an update of a message that took later posts keeps them. Where a thread has no message of
the command's to join, the post past the three opens one there. A message still queued in
the outbox (Slack down) takes later posts there (`Outbox.rewrite`). The scheduler's jobs
post through the bot's poster itself: they are not commands.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.core.ports import Poster
from bot.core.replies import Block
from bot.render import message_caps
from bot.render.blocks import REQUEST_ROLLBACK_ACTION, section
from bot.store.outbox import Outbox

logger = logging.getLogger(__name__)

POSTS_PER_COMMAND = 3


@dataclass
class _Message:
    """A message the command posted, which takes the later posts of its thread."""

    channel: str
    thread_ts: str | None
    ts: str  # "" while it waits in the outbox
    text: str  # its own text, as shown
    actions: list[Block]
    whole: bool = False  # it shows the whole of a post too big for a message
    queued: int | None = None  # its call in the outbox, while Slack has not taken it
    added: list[str] = field(default_factory=list)
    added_actions: list[Block] = field(default_factory=list)


class PostBudget:
    def __init__(
        self, inner: Poster, limit: int = POSTS_PER_COMMAND, outbox: Outbox | None = None
    ) -> None:
        self._inner = inner
        self._limit = limit
        self._outbox = outbox
        self._used = 0
        self._latest: dict[tuple[str, str | None], _Message] = {}  # by (channel, thread)
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

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
        with self._lock:
            fits = message_caps.fits(text, blocks)
            cost = 1 if fits else 2
            # An alarm, and an approval request (its buttons, its message_ts), is never folded.
            own_post = broadcast or _offers_rollback(blocks) or request_id is not None
            if own_post or self._used + cost <= self._limit:
                if own_post and self._used + cost > self._limit:
                    logger.info("an alarm or a request goes out on its own, past three posts")
                ts = self._inner.post(
                    channel, text, blocks,
                    thread_ts=thread_ts, broadcast=broadcast, request_id=request_id,
                )  # fmt: skip
                self._used += cost
                if request_id is None:
                    shown = text if fits else message_caps.cap(text, blocks).text
                    message = _Message(channel, thread_ts, ts or "", shown, _actions(blocks))
                    self._keep(message, shown)
                return ts
            latest = self._latest.get((channel, thread_ts))
            if latest is not None:
                return self._absorb(latest, text, blocks, request_id)
            if self._used >= self._limit:
                logger.warning("a post past its command's three posts opens its thread's message")
            return self._open(channel, text, blocks, thread_ts, request_id)

    def _keep(self, message: _Message, shown: str) -> None:
        """`message` (posted as `shown`) as the latest of its thread, the one later posts
        join; one queued in the outbox is found there, and later posts are added to it
        while it waits."""
        key = (message.channel, message.thread_ts)
        if not message.ts:
            message.queued = (
                self._outbox.queued_post(message.channel, message.thread_ts, shown)
                if self._outbox is not None
                else None
            )
            if message.queued is None:
                self._latest.pop(key, None)  # not posted, not queued: nothing to join
                return
        self._latest[key] = message

    def _open(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None,
        thread_ts: str | None,
        request_id: str | None,
    ) -> str | None:
        """A post with no room for a file beside it: its summary is posted, then the message
        is made to hold all of it."""
        summary = message_caps.cap(text, blocks)
        ts = self._inner.post(
            channel, summary.text, summary.blocks, thread_ts=thread_ts, request_id=request_id
        )
        self._used += 1
        if request_id is not None:
            return ts  # a request's own message: its approval rewrites it, nothing joins it
        message = _Message(channel, thread_ts, ts or "", text, _actions(blocks), whole=True)
        self._keep(message, summary.text)
        if summary.file is not None and self._latest.get((channel, thread_ts)) is message:
            self._show(message)
        return ts

    def _absorb(
        self, message: _Message, text: str, blocks: list[Block] | None, request_id: str | None
    ) -> str | None:
        message.added.append(text)
        message.added_actions.extend(_actions(blocks))
        if not self._show(message):
            logger.warning("the command's last message could not take one more post")
        # A request's own message is the one its approval updates: none of it is this one.
        return None if request_id is not None or not message.ts else message.ts

    def _show(self, message: _Message) -> bool:
        text, blocks = message_caps.combined(
            [message.text, *message.added], [*message.actions, *message.added_actions]
        )
        if message.queued is None:
            return self._inner.update(message.channel, message.ts, text, blocks)
        assert self._outbox is not None
        if self._outbox.rewrite(message.queued, text, blocks):
            return True
        # Delivered meanwhile, its ts unknown here: what it took goes in a message of its own.
        logger.warning("a queued message went out before the posts added to it")
        del self._latest[(message.channel, message.thread_ts)]
        joined, actions = "\n\n".join(message.added), message.added_actions
        shown = [section(joined), *actions] if actions else None
        return self._open(message.channel, joined, shown, message.thread_ts, None) is not None

    def update(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> bool:
        """An update of a message that took later posts keeps them, after its new text."""
        with self._lock:
            message = next(
                (m for m in self._latest.values() if m.ts == ts and m.channel == channel), None
            )
            if message is None:
                return self._inner.update(channel, ts, text, blocks)
            whole = message.whole or message_caps.fits(text, blocks)
            message.text = text if whole else message_caps.cap(text, blocks).text
            message.actions = _actions(blocks)
            if not message.added and not message.whole:
                return self._inner.update(channel, ts, text, blocks)
            return self._show(message)

    def ephemeral(self, channel: str, user: str, text: str) -> bool:
        return self._inner.ephemeral(channel, user, text)

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
        with self._lock:
            if self._used >= self._limit:
                # A file cannot be folded into a message; it goes, and the log says so.
                logger.warning("a command's file %s is past its three posts", filename)
            self._used += 1
            return self._inner.upload(
                channel, content, filename, title, thread_ts=thread_ts, comment=comment
            )

    def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        return self._inner.publish_home(user, view)

    def flush(self) -> int:
        return self._inner.flush()


def _actions(blocks: list[Block] | None) -> list[Block]:
    return [block for block in blocks or [] if block.get("type") == "actions"]


def _offers_rollback(blocks: list[Block] | None) -> bool:
    return any(
        element.get("action_id") == REQUEST_ROLLBACK_ACTION
        for block in _actions(blocks)
        for element in block.get("elements", [])
        if isinstance(element, dict)
    )
