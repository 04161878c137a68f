"""Editing a dotenv file's bytes: one key changes, every other byte stays as it was."""

from __future__ import annotations

import re


def _assignment(key: str) -> re.Pattern[bytes]:
    return re.compile(
        rb"^(?P<lead>[ \t]*(?:export[ \t]+)?)" + re.escape(key.encode()) + rb"[ \t]*="
    )


def read_env_value(content: bytes, key: str) -> str | None:
    """The value the app would see for `key` (the last assignment wins, as in dotenv)."""
    pattern = _assignment(key)
    value: str | None = None
    for line in content.splitlines():
        match = pattern.match(line)
        if match:
            raw = line[match.end() :].split(b" #", 1)[0].strip()
            if len(raw) >= 2 and raw[:1] == raw[-1:] and raw[:1] in (b'"', b"'"):
                raw = raw[1:-1]
            value = raw.decode("utf-8", errors="replace")
    return value


def set_env_value(content: bytes, key: str, value: str) -> bytes:
    """Set every assignment of `key` to `value`, or append one; other lines are untouched.

    Line endings (LF or CRLF) of edited lines are kept; a file without a final newline
    gets one before the appended line.
    """
    if "\n" in value or "\r" in value:
        raise ValueError("an env value cannot contain a line break")
    pattern = _assignment(key)
    new_assignment = key.encode() + b"=" + value.encode()
    lines = content.splitlines(keepends=True)
    found = False
    for index, line in enumerate(lines):
        match = pattern.match(line)
        if match:
            ending = line[len(line.rstrip(b"\r\n")) :]
            lines[index] = match.group("lead") + new_assignment + ending
            found = True
    if found:
        return b"".join(lines)
    ending = b"\r\n" if content.endswith(b"\r\n") else b"\n"
    separator = b"" if not content or content.endswith(b"\n") else ending
    return content + separator + new_assignment + ending
