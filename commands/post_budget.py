"""One command makes at most three channel posts: messages (thread replies too) and files,
its reply's file, its follow-ups' and its execution's posts through to the outcome
(ephemerals and updates don't count).

`commands.dispatch` gives each invocation's context a `PostBudget` over the bot's poster.
The first posts go out as they come while they fit in the three; the third is then the
command's last message, and every later post is added to it as it comes (`chat.update`:
in order, its buttons kept), so nothing is lost or reordered. A post too big for a message
costs two (its summary, and the file `bot.render.message_caps` makes of it). The
scheduler's jobs post through the bot's poster itself: they are not commands.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.core.ports import Poster
from bot.core.replies import Block
from bot.render import message_caps

logger = logging.getLogger(__name__)

POSTS_PER_COMMAND = 3


@dataclass
class _Last:
    """The command's last message, which absorbs the posts after it."""

    channel: str
    ts: str
    parts: list[str]
    actions: list[Block] = field(default_factory=list)


class PostBudget:
    def __init__(self, inner: Poster, limit: int = POSTS_PER_COMMAND) -> None:
        self._inner = inner
        self._limit = limit
        self._used = 0
        self._last: _Last | None = None
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
            cost = 1 if message_caps.fits(text, blocks) else 2
            if self._last is None and self._used + cost <= self._limit:
                ts = self._inner.post(
                    channel, text, blocks,
                    thread_ts=thread_ts, broadcast=broadcast, request_id=request_id,
                )  # fmt: skip
                self._used += cost
                if self._used >= self._limit and ts:
                    shown = text if cost == 1 else message_caps.cap(text, blocks).text
                    self._last = _Last(channel, ts, [shown], _actions(blocks))
                return ts
            if self._last is None:
                return self._open_last(channel, text, blocks, thread_ts, request_id)
            return self._absorb(text, blocks, request_id)

    def _open_last(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None,
        thread_ts: str | None,
        request_id: str | None,
    ) -> str | None:
        """The last post, where the whole of it has no room for a file beside it: its
        summary is posted, then the message is made to hold all of it."""
        summary = message_caps.cap(text, blocks)
        ts = self._inner.post(
            channel, summary.text, summary.blocks, thread_ts=thread_ts, request_id=request_id
        )
        self._used += 1
        if ts is None:
            return None  # queued in the outbox: the posts after it go out in order too
        self._last = _Last(channel, ts, [], [])
        return self._absorb(text, blocks, request_id) or (ts if request_id is None else None)

    def _absorb(self, text: str, blocks: list[Block] | None, request_id: str | None) -> str | None:
        last = self._last
        assert last is not None
        last.parts.append(text)
        last.actions.extend(_actions(blocks))
        combined_text, combined_blocks = message_caps.combined(last.parts, last.actions)
        if not self._inner.update(last.channel, last.ts, combined_text, combined_blocks):
            logger.warning("the command's last message could not take one more post")
        # A request's own message is the one its approval updates: none of it is this one.
        return None if request_id is not None else last.ts

    def update(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> bool:
        return self._inner.update(channel, ts, text, blocks)

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
