"""How big a post may be, and what a post too big for it becomes: a short summary in the
message, the full text in a file.

Slack takes up to 3,000 characters in a section block and 40,000 in a message's text, and
a long table is unreadable in a channel anyway: a post over 3,000 characters, or with a
table (a monospace block, else its lines) over 40 rows, goes as a file, with its first
lines and a note saying how much is in the file — as Atlantis caps its comments. A
command's combined post (`commands.post_budget`) holds up to 40,000 characters as
sections of 3,000. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.replies import Block

SECTION_LIMIT = 3_000
TEXT_LIMIT = 40_000
TABLE_ROWS = 40
SUMMARY_LINES = 6
SUMMARY_CHARS = 1_200
MAX_BLOCKS = 50  # Slack's limit for one message


@dataclass(frozen=True)
class CappedPost:
    """What to send for a post: `text` and `blocks` for the message, and `file` (the full
    text) when it did not fit, to be uploaded beside it as `filename`."""

    text: str
    blocks: list[Block] | None
    file: bytes | None = None
    filename: str = ""
    title: str = ""


def table_rows(text: str) -> int:
    """The rows of the longest monospace block; a text without one counts its lines."""
    parts = text.split("```")
    tables = parts[1::2]
    if tables:
        return max(len([line for line in table.splitlines() if line.strip()]) for table in tables)
    return len(text.splitlines())


def fits(text: str, blocks: list[Block] | None = None) -> bool:
    shown = [text, *_section_texts(blocks)]
    return all(len(part) <= SECTION_LIMIT and table_rows(part) <= TABLE_ROWS for part in shown)


def cap(text: str, blocks: list[Block] | None = None, name: str = "") -> CappedPost:
    """`text` as it may be posted: itself when it fits; else its summary, the blocks'
    buttons kept, and the full text as a file."""
    if fits(text, blocks):
        return CappedPost(text, blocks)
    full = (
        text
        if len(text) >= max(map(len, _section_texts(blocks)), default=0)
        else ("\n".join(_section_texts(blocks)))
    )
    filename = f"{name or slug(full)}.txt"
    rows = table_rows(full)
    summary = (
        summary_head(full)
        + f"\n_… {rows} rows, {len(full):,} characters in all; the full text is in the "
        f"attached file `{filename}`._"
    )
    kept = [block for block in blocks or [] if block.get("type") == "actions"]
    capped_blocks = [_section(summary), *kept] if blocks else None
    return CappedPost(
        summary, capped_blocks, full.encode("utf-8"), filename, first_line(full)[:200]
    )


def summary_head(text: str) -> str:
    """The first lines of `text`, before any table, closed if they open a code block."""
    head = text.split("```")[0].rstrip()
    lines = (head or text).splitlines()[:SUMMARY_LINES]
    shown = "\n".join(lines)[:SUMMARY_CHARS]
    return shown + ("\n```" if shown.count("```") % 2 else "")


def first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "stagger-bot")


_EMOJI_CODE = re.compile(r":[a-z0-9_+-]+:")


def slug(text: str) -> str:
    """A file name from the post's first line, without its emoji codes (`:tada:`)."""
    words = re.findall(r"[a-z0-9]+", _EMOJI_CODE.sub(" ", first_line(text).lower()))
    return "-".join(words)[:48].strip("-") or "stagger-bot"


def combined(parts: list[str], actions: list[Block]) -> tuple[str, list[Block]]:
    """Several posts as one message: their texts one after another (up to Slack's 40,000
    characters) in sections of up to 3,000, then every post's buttons, each block of them
    with an id of its own (Slack refuses a message that repeats one)."""
    text = "\n\n".join(parts)
    if len(text) > TEXT_LIMIT:
        cut = TEXT_LIMIT - 200
        text = (
            text[:cut] + f"\n_… {len(text) - cut:,} characters more do not fit in one Slack "
            "message and are not shown._"
        )
    sections = [_section(chunk) for chunk in chunks(text, SECTION_LIMIT)]
    room = MAX_BLOCKS - min(len(actions), 5)
    return text, [*sections[:room], *unique_block_ids(actions[:5])]


def unique_block_ids(blocks: list[Block]) -> list[Block]:
    """`blocks` with a repeated `block_id` made unique (`offer:prod`, `offer:prod#2`)."""
    seen: set[str] = set()
    unique: list[Block] = []
    for block in blocks:
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            candidate, n = block_id, 1
            while candidate in seen:
                n += 1
                candidate = f"{block_id}#{n}"
            seen.add(candidate)
            block = {**block, "block_id": candidate} if candidate != block_id else block
        unique.append(block)
    return unique


def chunks(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size`, cut at line ends where there are any."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [piece.rstrip("\n") or " " for piece in pieces]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def _section_texts(blocks: list[Block] | None) -> list[str]:
    texts = []
    for block in blocks or []:
        text = block.get("text")
        if block.get("type") == "section" and isinstance(text, dict):
            texts.append(str(text.get("text", "")))
    return texts
