"""Slack's mrkdwn as a person reads it in a terminal: *bold*, _italics_, ~strikes~ and
`code` as such, `<@U…>` as the person's name, `<#C…>` as the channel's, `:emoji:` codes as
emoji, and verdicts (met, not met, alert, unavailable) and pass/fail in colour. Pure: the
rehearsal and `stagger-bot cmd` print it (styled on a terminal, `.plain` elsewhere)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rich.text import Text

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
    ":heavy_minus_sign:": "➖",
    ":link:": "🔗",
    ":triangular_ruler:": "📐",
    ":test_tube:": "🧪",
    ":eyes:": "👀",
    ":lock:": "🔒",
    ":unlock:": "🔓",
    ":snowflake:": "❄️",
    ":arrows_counterclockwise:": "🔄",
    ":white_circle:": "⚪",
}
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|([^>]*))?>")
_FENCE = "```"
# Slack's inline markup: a marker next to a word character, or one followed (opening) or
# preceded (closing) by a space, is a plain character; so an underscore inside a word
# (`database_url_env`) does not end italics.
_INLINE = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|(?<![\w*])\*(?P<bold>\S(?:[^*\n]*?\S)?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>\S(?:(?:[^_\n]|(?<=\w)_(?=\w))*?\S)?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>\S(?:[^~\n]*?\S)?)~(?![\w~])"
)
_STYLE = {"bold": "bold", "italic": "italic", "strike": "strike"}
# What a verdict or an outcome looks like, and its colour.
VERDICT_COLOURS = (
    (re.compile(r"✅ (?:PASSED|met)\b"), "bold green"),
    (re.compile(r"❌ FAILED\b"), "bold red"),
    (re.compile(r"🔴 ALERT\b"), "bold red"),
    (re.compile(r"🟡 not met\b"), "yellow"),
    (re.compile(r"❔ unavailable\b"), "magenta"),
    (re.compile(r"(?m)^\s*✅ [^\n:]+"), "green"),
    (re.compile(r"(?m)^\s*❌ [^\n:]+"), "red"),
    (re.compile(r"(?m)^\s*❔ [^\n:]+"), "magenta"),
    (re.compile(r"(?<!✅ )\b(?:PASSED|passed)\b"), "green"),
    (re.compile(r"(?<!❌ )\b(?:FAILED|failed)\b"), "bold red"),
)


def tokens(text: str, names: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Slack's `<…>` tokens and `:codes:` as a reader sees them (still mrkdwn)."""
    for code, emoji in EMOJI.items():
        text = text.replace(code, emoji)
    text = _MENTION.sub(lambda match: "@" + names.get(match[1], match[1]), text)
    text = _CHANNEL.sub(lambda m: "#" + (m[2] or channels.get(m[1], m[1])), text)
    text = _DATE.sub(lambda match: match[1], text)
    text = _LINK.sub(lambda match: match[2] or match[1], text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _inline(text: str, style: str = "") -> Text:
    shown = Text(style=style)
    position = 0
    for match in _INLINE.finditer(text):
        shown.append(text[position : match.start()])
        kind = match.lastgroup or ""
        if kind == "code":
            shown.append(match[0][1:-1], style="cyan")
        else:
            shown.append_text(_inline(match[kind], _STYLE[kind]))
        position = match.end()
    shown.append(text[position:])
    return shown


def mrkdwn(text: str) -> Text:
    """Slack's mrkdwn as styled text: code blocks verbatim, inline markup applied, and
    each verdict and outcome coloured."""
    shown = Text()
    for index, part in enumerate(text.split(_FENCE)):
        if index % 2:  # inside a ``` block: as typed, without the fence's own newlines
            shown.append(part.removeprefix("\n").removesuffix("\n"))
        else:
            shown.append_text(_inline(part))
    for pattern, colour in VERDICT_COLOURS:
        shown.highlight_regex(pattern, colour)
    return shown


def readable(text: str, names: Mapping[str, str], channels: Mapping[str, str] | None = None) -> str:
    """The plain text a reader sees."""
    return mrkdwn(tokens(text, names, channels or {})).plain
