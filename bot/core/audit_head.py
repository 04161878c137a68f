"""The head of the audit trail: its newest entry's id and hash. Posted to Slack, it is a
witness kept outside the store, which `stagger-bot audit verify --head` checks against."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a post shows of the hash: 64 bits, beyond guessing, short enough to copy.
SHOWN_HEX = 16
_WRITTEN = re.compile(r"`?\s*(\d+):([0-9a-fA-F]+)\s*`?")


@dataclass(frozen=True)
class AuditHead:
    id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.id}:{self.hash[:SHOWN_HEX]}"

    def matches(self, entry_id: int, entry_hash: str) -> bool:
        """Whether the entry is this head (its hash may be shown shortened)."""
        return entry_id == self.id and entry_hash.lower().startswith(self.hash.lower())


def parse_head(text: str) -> AuditHead:
    """`ID:HASH` as a post shows it (HASH at least 16 hex digits); ValueError says why not."""
    match = _WRITTEN.fullmatch(text.strip())
    if match is None or len(match.group(2)) < SHOWN_HEX:
        raise ValueError(
            f"an audit head is ID:HASH as the bot posts it, e.g. 1234:9f2c8a1b3c4d5e6f "
            f"({SHOWN_HEX} or more hex digits), not {text.strip()[:80]!r}"
        )
    return AuditHead(int(match.group(1)), match.group(2).lower())
