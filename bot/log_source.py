"""Incremental log scans on a host: only new bytes are read, only matching lines travel.

Per host and file a cursor (inode, offset) is kept. The next scan reads the bytes added
since; `grep -F` on the host filters them, so a 1 GB log with 10 MB of relevant lines
moves about 10 MB. A rotated file (new inode, or a shorter file) is read from its start,
after the rest of the old one when it is still there as `<file>.1`. A partial last line
waits for the next scan.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from bot.errors import RemoteError
from bot.log_lines import LogEvent, Malformed, parse_line
from bot.remote import CommandResult, RemoteSession
from bot.spec import LogSpec

_TAIL_WINDOW = 16 * 1024  # sent with each scan, to find the start of a partial last line
_LONG_LINE_WINDOW = 1024 * 1024  # fetched separately when that line is longer
# Log bytes per command: every command costs an SSH round trip (~0.1 s on loopback), so
# start with the whole range and halve only while the matching lines overflow the output.
_FIRST_CHUNK = 4 * 1024 * 1024 * 1024
_SMALLEST_CHUNK = 64 * 1024


class _OutputTooLarge(Exception):
    """The matching lines of a chunk overflowed the transport's output limit."""


class _FileChanged(Exception):
    """The file shrank between the stat and the read (rotated or truncated)."""


@dataclass(frozen=True)
class LogCursor:
    inode: int
    offset: int


@dataclass(frozen=True)
class ScanResult:
    events: tuple[LogEvent, ...]
    malformed: int
    cursor: LogCursor
    bytes_scanned: int
    rotated: bool = False


@dataclass(frozen=True)
class _Range:
    path: str
    start: int
    end: int


def scan_log(
    session: RemoteSession,
    host: str,
    path: str,
    spec: LogSpec,
    cursor: LogCursor | None,
    *,
    timeout: float = 120.0,
) -> ScanResult:
    """Events logged since `cursor` (from the file's start when None)."""
    current, previous = _stat(session, path, timeout)
    if current is None:
        raise RemoteError(host, f"log file {path} not found")
    inode, size = current
    ranges: list[_Range] = []
    rotated = cursor is not None and (cursor.inode != inode or size < cursor.offset)
    if cursor is None:
        ranges.append(_Range(path, 0, size))
    elif not rotated:
        ranges.append(_Range(path, cursor.offset, size))
    else:
        if previous is not None and previous[0] == cursor.inode and previous[1] >= cursor.offset:
            ranges.append(_Range(f"{path}.1", cursor.offset, previous[1]))
        ranges.append(_Range(path, 0, size))
    events: list[LogEvent] = []
    malformed = 0
    scanned = 0
    end = 0
    for part in ranges:
        part_events, part_malformed, end = _scan_in_chunks(session, host, part, spec, timeout)
        events.extend(part_events)
        malformed += part_malformed
        scanned += end - part.start
    return ScanResult(tuple(events), malformed, LogCursor(inode, end), scanned, rotated)


def _scan_in_chunks(
    session: RemoteSession, host: str, part: _Range, spec: LogSpec, timeout: float
) -> tuple[list[LogEvent], int, int]:
    """The range, a chunk per command, so no command's output outgrows the transport."""
    events: list[LogEvent] = []
    malformed = 0
    position, chunk = part.start, _FIRST_CHUNK
    while position < part.end:
        piece = _Range(part.path, position, min(part.end, position + chunk))
        try:
            chunk_events, chunk_malformed, whole_end = _scan_range(session, piece, spec, timeout)
        except _FileChanged:
            raise RemoteError(
                host, f"{part.path} changed while it was read; next scan retries"
            ) from None
        except _OutputTooLarge:
            if chunk <= _SMALLEST_CHUNK:
                raise RemoteError(
                    host, f"{part.path}: matching lines too dense to read within the output limit"
                ) from None
            chunk //= 2
            continue
        events.extend(chunk_events)
        malformed += chunk_malformed
        if whole_end == position:
            break  # no whole line yet: it waits for the next scan
        position = whole_end
    return events, malformed, position


def _stat(
    session: RemoteSession, path: str, timeout: float
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    quoted, rotated = shlex.quote(path), shlex.quote(f"{path}.1")
    result = session.run(
        f"stat -c '%i %s' -- {quoted} 2>/dev/null || echo -; "
        f"stat -c '%i %s' -- {rotated} 2>/dev/null || echo -",
        timeout=timeout,
    )
    _require(result, path)
    lines = result.stdout.decode("ascii", errors="replace").split("\n")
    return _inode_size(lines[0]), _inode_size(lines[1] if len(lines) > 1 else "-")


def _inode_size(line: str) -> tuple[int, int] | None:
    fields = line.split()
    if len(fields) != 2 or not all(field.isdigit() for field in fields):
        return None
    return int(fields[0]), int(fields[1])


def _require(result: CommandResult, path: str) -> None:
    if not result.ok:
        why = "timed out" if result.timed_out else f"exit {result.exit_status}"
        detail = result.stderr.decode("utf-8", errors="replace").strip()[:200]
        raise RemoteError(result.host, f"reading {path} failed ({why}) {detail}".strip())


def _scan_range(
    session: RemoteSession, part: _Range, spec: LogSpec, timeout: float
) -> tuple[list[LogEvent], int, int]:
    """Matching events in [start, end) and where the last whole line ends — one command:
    the range's last bytes (to find a partial last line) and its matching lines."""
    length = part.end - part.start
    if length <= 0:
        return [], 0, part.start
    window_start = max(part.start, part.end - _TAIL_WINDOW)
    window_length = part.end - window_start
    patterns = " ".join(f"-e {shlex.quote(value)}" for value in spec.patterns().values())
    result = session.run(
        f"{_bytes_of(part.path, window_start, part.end)}; "
        f"{_bytes_of(part.path, part.start, part.end)} "
        f"| LC_ALL=C grep -a -b -F {patterns}; rc=$?; [ $rc -le 1 ]",
        timeout=timeout,
    )
    _require(result, part.path)
    if result.truncated:
        raise _OutputTooLarge
    window, matches = result.stdout[:window_length], result.stdout[window_length:]
    if len(window) != window_length:
        raise _FileChanged
    whole_end = _end_of_last_line(window, window_start)
    if whole_end is None:
        whole_end = _start_of_long_partial_line(session, part, timeout)
    events: list[LogEvent] = []
    malformed = 0
    for line in matches.split(b"\n"):
        offset_text, colon, content = line.partition(b":")
        if not colon or not offset_text.isdigit():
            continue
        if part.start + int(offset_text) + len(content) >= whole_end:
            continue  # the partial last line, or past it
        parsed = parse_line(content, spec)
        if isinstance(parsed, Malformed):
            malformed += 1
        elif parsed is not None:
            events.append(parsed)
    return events, malformed, whole_end


def _start_of_long_partial_line(session: RemoteSession, part: _Range, timeout: float) -> int:
    window_start = max(part.start, part.end - _LONG_LINE_WINDOW)
    result = session.run(_bytes_of(part.path, window_start, part.end), timeout=timeout)
    _require(result, part.path)
    if result.truncated:
        raise _OutputTooLarge
    end = _end_of_last_line(result.stdout, window_start)
    # No line ends in the window either: read nothing this time rather than split a line.
    return part.start if end is None else end


def _bytes_of(path: str, start: int, end: int) -> str:
    """A shell pipeline printing bytes [start, end) of `path`; tail seeks, so it is cheap."""
    return f"tail -c +{start + 1} -- {shlex.quote(path)} | head -c {end - start}"


def _end_of_last_line(window: bytes, window_start: int) -> int | None:
    """Where the last whole line in `window` ends, as a file offset; None if none ends."""
    newline = window.rfind(b"\n")
    return None if newline < 0 else window_start + newline + 1
