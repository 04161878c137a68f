"""Slack Web API calls as a person in the channel reads them: what the rehearsal prints.

Slack's mrkdwn is rendered, not shown: *bold*, _italics_, ~strikes~ and `code` as such,
`<@U…>` as the person's name, `<#C…>` as the channel's, `:emoji:` codes as emoji, Block
Kit sections and context as lines, buttons as `[Approve]`. Verdicts (met, not met,
alert, unavailable) and pass/fail are in colour on a terminal (rich), and plain when the
output is not one or NO_COLOR is set. `Terminal` prints above a status line, writes the
channel's transcript and each uploaded file to the output folder, and notices a closed
output (`| head`) instead of failing on it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from bot.rehearsal.output import RehearsalOutput
from bot.rehearsal.slack_standin import ApiCall
from bot.render.mrkdwn_text import mrkdwn, tokens


def _blocks(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [block for block in parsed if isinstance(block, dict)]


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


def _indented(prefix: str, body: Text) -> Text:
    """`prefix` before the first line, its width of spaces before the others."""
    shown = Text(prefix)
    for number, line in enumerate(body.split("\n", allow_blank=True)):
        if number:
            shown.append("\n" + " " * len(prefix))
        shown.append_text(line)
    return shown


def render_call(
    call: ApiCall,
    names: Mapping[str, str],
    channels: Mapping[str, str] | None = None,
    saved: Mapping[str, Path] | None = None,
) -> Text | None:
    """What a channel reader sees of one call, or None for calls they would not see.
    `saved`: where each uploaded file (by its title) was written."""
    method, params, channels = call.method, call.params, channels or {}

    def shown(text: str) -> Text:
        return mrkdwn(tokens(text, names, channels))

    if method == "chat.postMessage":
        blocks = _blocks(params)
        body = "\n".join(line for b in blocks for line in _block_lines(b)) or str(params["text"])
        return _indented("  ↳ " if params.get("thread_ts") else "• ", shown(body))
    if method == "chat.update":
        first = tokens(str(params.get("text", "")), names, channels).splitlines()[:1]
        return Text("  ✎ message updated: ", style="dim") + mrkdwn(first[0] if first else "")
    if method == "chat.postEphemeral":
        user = names.get(str(params.get("user")), str(params.get("user")))
        return _indented(f"  (only @{user} sees) ", shown(str(params.get("text", ""))))
    if method == "files.completeUploadExternal":
        files = params.get("files")
        titles = [
            str(f.get("title", "file"))
            for f in (json.loads(files) if isinstance(files, str) else files or [])
        ]
        comment = params.get("initial_comment")
        line = Text("  ↳ 📎 " + ", ".join(titles))
        if comment:
            line += Text(" — ") + shown(str(comment))
        for title in titles:
            if saved and title in saved:
                line.append(f" — saved as {saved[title]}", style="dim")
        return line
    return None


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits the process from whichever thread printed; the rehearsal stops in
        its own time instead (see `Terminal.closed`)."""
        raise BrokenPipeError


class Terminal:
    """The channel as printed posts, with a status line below them on a terminal; the
    transcript and uploaded files also go to `output`. A closed output sets `closed`
    instead of raising in the thread that printed (the stand-in's, often)."""

    def __init__(
        self,
        out: TextIO,
        names: Mapping[str, str],
        *,
        channels: Mapping[str, str] | None = None,
        output: RehearsalOutput | None = None,
        colour: bool = True,
        status_line: bool = True,
    ) -> None:
        self._out = out
        self._names = names
        self._channels = channels or {}
        self._output = output
        self._console = _Console(
            file=out,
            no_color=not colour,
            color_system="auto" if colour else None,
            highlight=False,
            markup=False,
            emoji=False,
            soft_wrap=True,
        )
        self._lock = threading.Lock()
        self._tty = out.isatty() and status_line
        self._status = ""
        self._held: list[Text] | None = None
        self.closed = threading.Event()
        self.posts: list[str] = []

    def on_call(self, call: ApiCall) -> None:
        """The stand-in's hook: print what a channel reader would see."""
        saved = self._output.save_files(call.files) if self._output and call.files else {}
        text = render_call(call, self._names, self._channels, saved)
        if text is None:
            return
        with self._lock:
            if call.method == "chat.postMessage":
                self.posts.append(text.plain)
            if self._held is not None:
                self._held.append(text)
            else:
                self._print(text)

    def say(self, text: str, style: str = "") -> None:
        """The rehearsal's own words (mrkdwn too)."""
        with self._lock:
            self._print(mrkdwn(tokens(text, self._names, self._channels)), style)

    def hold(self) -> None:
        """Posts wait until `release`: what a command posts after its ack is printed after
        the ack, though the bot may post it before the ack reaches the rehearsal."""
        with self._lock:
            self._held = []

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held or [], None
            for text in held:
                self._print(text)

    def status(self, text: str) -> None:
        with self._lock:
            self._status = text
            self._write(self._redraw)

    def _print(self, text: Text, style: str = "") -> None:
        """Under the lock."""
        if style:
            text.stylize(style)
        if self._output is not None:
            self._output.transcript(text.plain)

        def write() -> None:
            self._clear()
            self._console.print(text)
            self._draw()

        self._write(write)

    def _redraw(self) -> None:
        self._clear()
        self._draw()

    def _write(self, write: Callable[[], None]) -> None:
        if self.closed.is_set():
            return
        try:
            write()
        except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
            self.closed.set()

    def _clear(self) -> None:
        if self._tty:
            self._out.write("\r\033[K")

    def _draw(self) -> None:
        if self._tty and self._status:
            self._out.write(self._status)
        self._out.flush()
