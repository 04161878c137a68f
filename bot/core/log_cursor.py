"""Where a scan of a host's log stopped: the file (inode, and its head for copytruncate)
and the byte offset after the last whole line read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogCursor:
    inode: int
    offset: int
    # cksum of the file's first HEAD_BYTES when it had them: a file truncated and written
    # again in place (copytruncate) keeps its inode, not these bytes.
    head: int | None = field(default=None, compare=False)
