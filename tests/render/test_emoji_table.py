"""Every Slack emoji code the bot writes is one the terminal rendering knows, so the
rehearsal's channel never shows a raw `:test_tube:`."""

from __future__ import annotations

import re
from pathlib import Path

from bot.render.mrkdwn_text import EMOJI

_CODE = re.compile(r"""["'\s(]:([a-z][a-z0-9_]+):""")


def test_every_emoji_code_in_the_bots_messages_renders_on_a_terminal() -> None:
    used = {
        f":{code}:"
        for folder in ("bot", "commands", "jobs")
        for path in Path(folder).rglob("*.py")
        for code in _CODE.findall(path.read_text(encoding="utf-8"))
    }
    assert len(used) > 10  # the pattern finds what the bot writes
    assert used - set(EMOJI) == set()
