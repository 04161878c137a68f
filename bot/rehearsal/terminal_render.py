"""Slack Web API calls as readable terminal text: what the rehearsal prints for the
channel. Block Kit sections and context become lines, buttons `[Approve]`, mentions and
channels names, emoji codes emoji (pure); `Terminal` prints them above a status line."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from bot.rehearsal.slack_standin import ApiCall

EMOJI = {
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":grey_question:": "❔",
    ":red_circle:": "🔴",
    ":large_yellow_circle:": "🟡",
    ":rotating_light:": "🚨",
    ":gear:": "⚙️",
    ":warning:": "⚠️",
    ":tada:": "🎉",
    ":hourglass_flowing_sand:": "⏳",
    ":hourglass:": "⌛",
    ":no_entry:": "⛔",
    ":mute:": "🔇",
    ":loud_sound:": "🔊",
    ":bar_chart:": "📊",
    ":alarm_clock:": "⏰",
    ":heavy_multiplication_x:": "✖️",
}
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")


def _blocks(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [block for block in parsed if isinstance(block, dict)]


def readable(text: str, names: Mapping[str, str]) -> str:
    for code, emoji in EMOJI.items():
        text = text.replace(code, emoji)
    text = _MENTION.sub(lambda match: "@" + names.get(match[1], match[1]), text)
    text = _CHANNEL.sub("#rollout", text)
    text = _DATE.sub(lambda match: match[1], text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind in ("section", "header"):
        return [str(block.get("text", {}).get("text", ""))]
    if kind == "context":
        return ["  " + " ".join(str(e.get("text", "")) for e in block.get("elements", []))]
    if kind == "actions":
        labels = [str(e.get("text", {}).get("text", "?")) for e in block.get("elements", [])]
        return ["  " + " ".join(f"[{label}]" for label in labels)]
    return []


def render_call(method: str, params: Mapping[str, Any], names: Mapping[str, str]) -> str | None:
    """The terminal text for one call, or None for calls a channel reader would not see."""
    if method == "chat.postMessage":
        blocks = _blocks(params)
        body = "\n".join(line for b in blocks for line in _block_lines(b)) or str(params["text"])
        prefix = "  ↳ " if params.get("thread_ts") else "• "
        return prefix + readable(body, names).replace("\n", "\n" + " " * len(prefix))
    if method == "chat.update":
        first = readable(str(params.get("text", "")), names).splitlines()[:1]
        return f"  ✎ message updated: {first[0] if first else ''}"
    if method == "chat.postEphemeral":
        user = names.get(str(params.get("user")), str(params.get("user")))
        return f"  (only @{user} sees) {readable(str(params.get('text', '')), names)}"
    if method == "files.completeUploadExternal":
        files = params.get("files")
        titles = [
            f.get("title", "file")
            for f in (json.loads(files) if isinstance(files, str) else files or [])
        ]
        comment = params.get("initial_comment")
        return (
            "  ↳ 📎 "
            + ", ".join(titles)
            + (f" — {readable(str(comment), names)}" if comment else "")
        )
    return None


class Terminal:
    """The channel as printed posts, with a status line below them on a terminal."""

    def __init__(self, out: TextIO, names: Mapping[str, str], *, status_line: bool = True) -> None:
        self._out = out
        self._names = names
        self._lock = threading.Lock()
        self._tty = out.isatty() and status_line
        self._status = ""
        self.posts: list[str] = []

    def on_call(self, call: ApiCall) -> None:
        """The stand-in's hook: print what a channel reader would see."""
        text = render_call(call.method, call.params, self._names)
        if text is None:
            return
        with self._lock:
            if call.method == "chat.postMessage":
                self.posts.append(text)
            self._clear()
            self._out.write(text + "\n")
            self._draw()

    def say(self, text: str) -> None:
        with self._lock:
            self._clear()
            self._out.write(text + "\n")
            self._draw()

    def status(self, text: str) -> None:
        with self._lock:
            self._status = text
            self._clear()
            self._draw()

    def _clear(self) -> None:
        if self._tty:
            self._out.write("\r\033[K")

    def _draw(self) -> None:
        if self._tty and self._status:
            self._out.write(self._status)
        self._out.flush()
