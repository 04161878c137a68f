"""Incremental log scans on a host: only new bytes are read, only matching lines travel.

Per host and file a cursor (inode, offset) is kept. The next scan reads the bytes added
since; `grep -F` on the host filters them, so a 1 GB log with 10 MB of relevant lines
moves those 10 MB, gzip'd to about 1 MB. A rotated file (new inode, or a shorter file)
is read from its start, after the rest of the old one when it is still there as
`<file>.1`. A partial last line waits for the next scan.

Every SSH command costs a round trip and a login-shell start on the host (0.1 s or more),
so a scan is one command: `_SCRIPT` stats the file, chooses the ranges, finds where each
range's last whole line ends and greps it. Its output is parsed as it arrives (the bot
parses while the host still greps) into batches of events, each with the cursor after it,
so a caller can store a scan as it goes and memory stays bounded.
"""

from __future__ import annotations

import contextlib
import queue
import shlex
import threading
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import RemoteError
from bot.core.log_cursor import LogCursor
from bot.core.log_lines import LineParser, LogEvent, Malformed
from bot.core.ports import CommandResult, RemoteSession
from bot.core.spec_fleet import LogSpec

_TAIL_WINDOW = 16 * 1024  # searched for the start of a partial last line
_LONG_LINE_WINDOW = 1024 * 1024  # searched too when that line is longer
HEAD_BYTES = 256  # a file's first bytes, whose cksum tells the same file from a new one
BATCH_EVENTS = 10_000

# POSIX sh; arguments: file, cursor inode (-1: none), cursor offset, cursor head (the
# cksum of the file's first HEAD_BYTES, or -), patterns. Prints, compressed with `gzip -1`
# (log lines shrink about 10x; less to encrypt and decrypt):
#   H <inode> <size> <inode.1> <size.1> <head> <head.1>   (- for what is missing)
#   R <0: file | 1: file.1> <start> <end> <bytes after the last newline, or - if none>
#   <offset in range>:<line>  ...                  (grep -b, one per matching line)
#   E                                   (the range was read to its end, unchanged)
# Grep lines start with a digit, ours with a letter, so the two never mix up. Problems go
# to stderr as `stagger-scan: ...` and are raised after the batches stored before them;
# those are right, since a cursor never passes what the host did not confirm. (A file
# truncated in place and refilled while grep reads it can still slip by: rare.)
_SCRIPT = f"""
f=$1 ci=$2 co=$3 cf=$4
shift 4
n=$#
while [ "$n" -gt 0 ]; do set -- "$@" -e "$1"; shift; n=$((n - 1)); done
now() {{ stat -c '%i %s' -- "$1" 2>/dev/null || echo - -; }}
# The cksum of a file's first HEAD_BYTES: the same file (not one truncated and written
# again in place, as logrotate's copytruncate does) keeps it.
head_of() {{
  if [ "$2" -ge {HEAD_BYTES} ] 2>/dev/null; then
    x=$(head -c {HEAD_BYTES} -- "$1" | cksum); echo "${{x%% *}}"
  else echo -; fi
}}
h="$(now "$f") $(now "$f.1")"
set -f
set -- $h "$@"
ino0=$1 size0=$2 ino1=$3 size1=$4
shift 4
[ "$ino0" = - ] && {{ echo 'stagger-scan: missing' >&2; exit 0; }}
fp0=$(head_of "$f" "$size0") fp1=-
if [ "$ino0" = "$ci" ] && [ "$size0" -ge "$co" ] && {{ [ "$cf" = - ] || [ "$fp0" = "$cf" ]; }}
then ranges="0:$co:$size0"
else
  [ "$size1" -ge "$co" ] 2>/dev/null && fp1=$(head_of "$f.1" "$size1")
  if [ "$size1" -ge "$co" ] 2>/dev/null &&
     {{ [ "$ino1" = "$ci" ] || {{ [ "$cf" != - ] && [ "$fp1" = "$cf" ]; }}; }}
  then ranges="1:$co:$size1 0:0:$size0"
  else ranges="0:0:$size0"; fi
fi
{{
echo "H $ino0 $size0 $ino1 $size1 $fp0 $fp1"
for r in $ranges; do
  which=${{r%%:*}} r=${{r#*:}}
  start=${{r%%:*}} end=${{r#*:}} file=$f ino=$ino0
  [ "$which" = 1 ] && file=$f.1 ino=$ino1
  p=-
  for w in {_TAIL_WINDOW} {_LONG_LINE_WINDOW}; do
    [ "$start" -lt "$end" ] || break
    s=$((end - w)); [ "$s" -lt "$start" ] && s=$start
    k=$({{ tail -c +$((s + 1)) -- "$file" | head -c $((end - s)); echo; }} | tail -n 1 | wc -c)
    if [ $((k - 1)) -lt $((end - s)) ]; then p=$((k - 1)); break; fi
    [ "$s" -eq "$start" ] && break
  done
  echo "R $which $start $end $p"
  [ "$p" = - ] && continue
  if [ "$start" -eq 0 ]; then LC_ALL=C grep -a -b -F "$@" -- "$file"
  else tail -c +$((start + 1)) -- "$file" | LC_ALL=C grep -a -b -F "$@"; fi
  status=$?
  after=$(now "$file")
  # E: the range was read to its end, so its bytes after the last match are done too.
  # Not after a grep error, nor if the file shrank or was replaced while it was read:
  # the bot then keeps the lines that arrived whole, and the next scan goes on from there.
  if [ "$status" -gt 1 ]; then echo "stagger-scan: grep exit $status" >&2; break
  elif [ "${{after% *}}" = "$ino" ] && [ "${{after#* }}" -ge "$end" ] 2>/dev/null; then echo E
  else echo 'stagger-scan: changed' >&2; break; fi
done
}} | gzip -1
"""
_INFLATED_CHUNK = 4 * 1024 * 1024  # output is inflated a piece at a time: memory stays flat


@dataclass(frozen=True)
class ScanBatch:
    """Events in file order and the cursor after them: store both together."""

    events: list[LogEvent]
    malformed: int
    cursor: LogCursor
    bytes_scanned: int
    rotated: bool


@dataclass(frozen=True)
class ScanResult:
    events: tuple[LogEvent, ...]
    malformed: int
    cursor: LogCursor
    bytes_scanned: int
    rotated: bool = False


def scan_log(
    session: RemoteSession,
    host: str,
    path: str,
    spec: LogSpec,
    cursor: LogCursor | None,
    *,
    timeout: float = 120.0,
    after: datetime | None = None,
) -> ScanResult:
    """Events logged since `cursor` (from the file's start when None), all at once."""
    events: list[LogEvent] = []
    malformed = scanned = 0
    rotated = False
    end = cursor
    for batch in scan_batches(session, host, path, spec, cursor, timeout=timeout, after=after):
        events.extend(batch.events)
        malformed += batch.malformed
        scanned += batch.bytes_scanned
        rotated = rotated or batch.rotated
        end = batch.cursor
    assert end is not None  # scan_batches always yields a last batch
    return ScanResult(tuple(events), malformed, end, scanned, rotated)


def scan_batches(
    session: RemoteSession,
    host: str,
    path: str,
    spec: LogSpec,
    cursor: LogCursor | None,
    *,
    timeout: float = 120.0,
    batch_events: int = BATCH_EVENTS,
    after: datetime | None = None,
) -> Generator[ScanBatch, None, None]:
    """The scan as it arrives, parsed while the host still greps: at most `batch_events`
    events a batch, each with the cursor after its last line, the last with the scan's
    final cursor. A cursor passes only lines that arrived whole, and a range's last bytes
    only once the host read it to its end unchanged, so every batch can be stored as it
    comes; a problem the host reports is raised after the batches before it. A caller
    that stops early closes the generator (or drops it): the command is ended. `after`
    is the last event stored from this file: a local time in the hour a zone repeats is
    read as the moment after it (`LineParser`)."""
    parser = LineParser(spec, after)
    patterns = [shlex.quote(value) for value in spec.patterns().values()]
    where = (
        ("-1", "0", "-")
        if cursor is None
        else (str(cursor.inode), str(cursor.offset), _head_argument(cursor.head))
    )
    arguments = " ".join([shlex.quote(path), *where, *patterns])
    command = f"sh -c {shlex.quote(_SCRIPT)} sh {arguments}"
    # Bounded: when the bot parses slower than the host sends, SSH's window holds the rest.
    pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
    outcome: list[CommandResult | Exception] = []
    stopped = threading.Event()  # the caller stopped reading: end the command

    def deliver(piece: bytes) -> None:
        if stopped.is_set():
            raise _Stopped
        pieces.put(piece)

    def run_command() -> None:
        try:
            outcome.append(session.run(command, timeout=timeout, on_stdout=deliver))
        except Exception as error:  # raised in the caller's thread, below
            outcome.append(error)
        finally:
            pieces.put(None)

    def arrived() -> Iterator[bytes]:
        while (piece := pieces.get()) is not None:
            yield piece

    worker = threading.Thread(target=run_command, name=f"scan {host}", daemon=True)
    worker.start()
    output = _Output(host, path)
    try:
        yield from _Reply(cursor, parser, batch_events).read(output.inflated(arrived()))
    finally:
        # However the caller stopped (at any batch, or by an error), the worker may be
        # waiting on a full queue: empty it until the command has ended.
        stopped.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                pieces.get(timeout=0.1)
        worker.join()
    [result] = outcome
    if isinstance(result, Exception):
        raise result
    _check(result, host, path)
    if not output.complete:
        raise RemoteError(host, f"reading {path}: the scan's output was cut off; next scan goes on")


class _Stopped(Exception):
    """The caller stopped reading the scan; its command is ended."""


def _head_argument(head: int | None) -> str:
    return "-" if head is None else str(head)


def _check(result: CommandResult, host: str, path: str) -> None:
    """Raises for a failed command or a problem the script reported."""
    problems = [
        line.removeprefix("stagger-scan: ")
        for line in result.stderr.decode("utf-8", errors="replace").splitlines()
        if line.startswith("stagger-scan: ")
    ]
    if "missing" in problems:
        raise RemoteError(host, f"log file {path} not found")
    if "changed" in problems:
        raise RemoteError(host, f"{path} changed while it was read; next scan retries")
    if problems or not result.ok:
        why = "timed out" if result.timed_out else f"exit {result.exit_status}"
        detail = "; ".join(problems) or result.stderr.decode("utf-8", "replace").strip()[:200]
        raise RemoteError(host, f"reading {path} failed ({why}) {detail}".strip())


class _Output:
    """The script's gzip'd output as it arrives, inflated a bounded piece at a time, and
    whether it arrived whole (its gzip stream ended)."""

    def __init__(self, host: str, path: str) -> None:
        self._host, self._path = host, path
        self.complete = True

    def inflated(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        inflate = zlib.decompressobj(wbits=31)  # gzip
        received = False
        try:
            for piece in pieces:
                received = True
                data = piece
                while data:
                    yield inflate.decompress(data, _INFLATED_CHUNK)
                    data = inflate.unconsumed_tail
            yield inflate.flush()
        except zlib.error as error:
            reason = f"reading {self._path}: the scan's output is corrupt ({error})"
            raise RemoteError(self._host, reason) from None
        self.complete = inflate.eof or not received


class _Reply:
    """One command's output, read into batches."""

    def __init__(self, cursor: LogCursor | None, parser: LineParser, size: int) -> None:
        self._parser, self._size = parser, size
        self._inode = -1 if cursor is None else cursor.inode
        self._offset = 0 if cursor is None else cursor.offset
        self._started = cursor
        self._inodes = (-1, -1)  # the file's and <file>.1's, from the header
        self._heads: tuple[int | None, int | None] = (None, None)  # and their heads
        self._head = None if cursor is None else cursor.head  # the file being read's
        self._start = self._whole_end = 0  # the range being read
        self._events: list[LogEvent] = []
        self._malformed = self._scanned = 0
        self._rotated = False

    def read(self, pieces: Iterator[bytes]) -> Iterator[ScanBatch]:
        rest = b""
        parse, events = self._parser.parse, self._events
        for piece in pieces:
            lines = (rest + piece).split(b"\n")
            rest = lines.pop()  # the start of a line that ends in the next piece
            for line in lines:
                if not line[:1].isdigit():
                    self._control(line)
                    continue
                # One grep line: used if it was whole in the range. Inline: it runs per line.
                offset, _, content = line.partition(b":")
                line_end = self._start + int(offset) + len(content) + 1
                if line_end > self._whole_end:
                    continue  # the partial last line, or bytes appended since the stat
                parsed = parse(content)
                if type(parsed) is LogEvent:
                    events.append(parsed)
                elif isinstance(parsed, Malformed):
                    self._malformed += 1
                self._scanned += line_end - self._offset
                self._offset = line_end
                if len(events) >= self._size:
                    yield self._batch()
                    events = self._events
        # `rest` is b"" after a whole output; else a line cut off with it (`_Output`).
        if self._inode >= 0:
            yield self._batch()

    def _control(self, line: bytes) -> None:
        fields = line.decode("ascii", errors="replace").split() or [""]
        if fields[0] == "H":
            inode, size = int(fields[1]), int(fields[2])
            self._inodes = (inode, int(fields[3]) if fields[3].isdigit() else -1)
            self._heads = (_head_field(fields, 5), _head_field(fields, 6))
            was = self._started
            self._rotated = was is not None and (
                was.inode != inode
                or size < was.offset
                or (was.head is not None and self._heads[0] != was.head)
            )
        elif fields[0] == "R":
            which = int(fields[1])
            inode, start, end = self._inodes[which], int(fields[2]), int(fields[3])
            self._head = self._heads[which]
            if inode != self._inode:
                self._inode, self._offset = inode, 0
            self._scanned += max(start - self._offset, 0)
            self._start, self._offset = start, start
            self._whole_end = start if fields[4] == "-" else end - int(fields[4])
        elif fields[0] == "E":
            self._scanned += self._whole_end - self._offset
            self._offset = self._whole_end

    def _batch(self) -> ScanBatch:
        batch = ScanBatch(
            self._events,
            self._malformed,
            LogCursor(self._inode, self._offset, self._head),
            self._scanned,
            self._rotated,
        )
        self._events, self._malformed, self._scanned = [], 0, 0
        return batch


def _head_field(fields: list[str], index: int) -> int | None:
    value = fields[index] if len(fields) > index else "-"
    return int(value) if value.isdigit() else None
