"""Incremental log scans over a real sshd, checked against the runbook's own commands."""

from __future__ import annotations

import os
import random
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from bot.core.errors import RemoteError
from bot.core.log_cursor import LogCursor
from bot.core.log_lines import EventKind
from bot.core.ports import CommandResult, OutputSink, RemoteSession
from bot.core.spec_fleet import LogSpec
from bot.hosts.log_source import ScanBatch, ScanResult, scan_batches, scan_log
from bot.hosts.ssh import SshTransport
from tests.support.ssh_fixtures import SshdServer

SPEC = LogSpec()
JOBS = ["Referral Tier 2 Processor", "Live Stats Sync", "Badge Auto-Unlock"]


def generate(lines: int, seed: int, minute: int = 0) -> bytes:
    """A combined.log with known content: job lines, pool samples, noise, bad bytes."""
    chooser = random.Random(seed)
    out = []
    for index in range(lines):
        stamp = (
            f"2026-02-01 12:{minute + index // 600 % 60:02d}:{index % 60:02d}.{index % 1000:03d}"
        )
        kind = chooser.randrange(8)
        job = chooser.choice(JOBS)
        if kind == 0:
            out.append(f"{stamp} info: 🔄 Job started: {job}")
        elif kind == 1:
            out.append(f"{stamp} info: ✅ Job completed: {job} (120 ms)")
        elif kind == 2:
            out.append(f"{stamp} error: ❌ Job failed: {job} - timeout")
        elif kind == 3:
            out.append(
                f"{stamp} info: [PoolMonitor] utilization {chooser.uniform(5, 99):.1f}% waiting=1"
            )
        elif kind == 4:
            out.append(f"{stamp} info: {job} skipped_lock")
        elif kind == 5:
            out.append(f"{stamp} warn: [DB] Slow query 2100ms")
        else:
            out.append(f"{stamp} info: GET /api/matches 200")
    return ("\n".join(out) + "\n").encode()


def grep_count(path: Path, pattern: str) -> int:
    result = subprocess.run(
        ["grep", "-c", "-a", "-F", pattern, str(path)], capture_output=True, text=True, check=False
    )
    return int(result.stdout.strip() or 0)


def pool_values(path: Path) -> list[float]:
    result = subprocess.run(
        ["grep", "-a", "-oP", r"utilization \K[0-9.]+(?=%)", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [float(value) for value in result.stdout.split()]


def scan(
    transport: SshTransport, sshd: SshdServer, path: Path, cursor: LogCursor | None
) -> ScanResult:
    with transport.connect(sshd.host_address) as session:
        return scan_log(session, str(sshd.host_address), str(path), SPEC, cursor)


def kinds(result: ScanResult) -> Counter[EventKind]:
    return Counter(event.kind for event in result.events)


def test_a_full_scan_counts_exactly_what_grep_counts(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(5000, seed=1))
    result = scan(ssh_transport, sshd, log, None)
    counted = kinds(result)
    assert counted[EventKind.JOB_STARTED] == grep_count(log, "Job started")
    assert counted[EventKind.JOB_COMPLETED] == grep_count(log, "Job completed")
    assert counted[EventKind.JOB_FAILED] == grep_count(log, "Job failed")
    assert counted[EventKind.LOCK_SKIP] == grep_count(log, "skipped_lock")
    assert counted[EventKind.SLOW_QUERY] == grep_count(log, "[DB] Slow query")
    assert [event.value for event in result.events if event.kind is EventKind.POOL] == pool_values(
        log
    )
    assert result.cursor == LogCursor(os.stat(log).st_ino, log.stat().st_size)
    assert result.malformed == 0


def test_the_next_scan_reads_only_what_was_appended(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(2000, seed=2))
    first = scan(ssh_transport, sshd, log, None)
    added = generate(300, seed=3, minute=30)
    with log.open("ab") as handle:
        handle.write(added)
    second = scan(ssh_transport, sshd, log, first.cursor)
    assert second.bytes_scanned == len(added)
    only_added = tmp_path / "added.log"
    only_added.write_bytes(added)
    assert kinds(second)[EventKind.JOB_STARTED] == grep_count(only_added, "Job started")
    assert scan(ssh_transport, sshd, log, second.cursor).events == ()


def test_a_partial_last_line_waits_for_the_next_scan(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(
        b"2026-02-01 12:00:00.000 info: Job started: Live Stats Sync\n"
        b"2026-02-01 12:00:01.000 info: Job started: Badge Au"
    )
    first = scan(ssh_transport, sshd, log, None)
    assert [event.job for event in first.events] == ["Live Stats Sync"]
    with log.open("ab") as handle:
        handle.write(b"to-Unlock\n")
    second = scan(ssh_transport, sshd, log, first.cursor)
    assert [event.job for event in second.events] == ["Badge Auto-Unlock"]


def test_rotation_keeps_the_rest_of_the_old_file(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(b"2026-02-01 12:00:00.000 info: Job started: A\n")
    first = scan(ssh_transport, sshd, log, None)
    with log.open("ab") as handle:
        handle.write(b"2026-02-01 12:00:01.000 info: Job started: B\n")
    log.rename(tmp_path / "combined.log.1")
    log.write_bytes(b"2026-02-01 12:00:02.000 info: Job started: C\n")
    second = scan(ssh_transport, sshd, log, first.cursor)
    assert second.rotated and [event.job for event in second.events] == ["B", "C"]
    assert second.cursor.inode == os.stat(log).st_ino


def test_a_truncated_file_is_read_again_from_its_start(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(b"2026-02-01 12:00:00.000 info: Job started: A\n" * 3)
    first = scan(ssh_transport, sshd, log, None)
    with log.open("r+b") as handle:  # copytruncate keeps the inode
        handle.truncate(0)
        handle.write(b"2026-02-01 12:00:09.000 info: Job started: Z\n")
    second = scan(ssh_transport, sshd, log, first.cursor)
    assert second.rotated and [event.job for event in second.events] == ["Z"]


def job_line(second: int, job: str) -> bytes:
    return f"2026-02-01 12:00:{second:02d}.000 info: Job started: {job}\n".encode()


def copytruncate(log: Path) -> None:
    """What logrotate's `copytruncate` (and pm2-logrotate) do: copy, then empty in place."""
    (log.parent / f"{log.name}.1").write_bytes(log.read_bytes())
    with log.open("r+b") as handle:
        handle.truncate(0)


def test_copytruncate_keeps_the_rest_of_the_copy_and_reads_the_new_file_whole(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(b"".join(job_line(n, f"A{n}") for n in range(10)))  # past HEAD_BYTES
    first = scan(ssh_transport, sshd, log, None)
    with log.open("ab") as handle:
        handle.write(job_line(30, "B"))  # logged after the scan, before the rotation
    copytruncate(log)
    # The app goes on writing to the emptied file, past where the last scan stopped:
    # same inode, larger than the cursor's offset, yet another file's bytes.
    log.write_bytes(b"".join(job_line(40 + n % 10, f"C{n}") for n in range(12)))
    assert os.stat(log).st_size > first.cursor.offset

    second = scan(ssh_transport, sshd, log, first.cursor)

    assert second.rotated and second.malformed == 0
    assert [event.job for event in second.events] == ["B", *(f"C{n}" for n in range(12))]
    third = scan(ssh_transport, sshd, log, second.cursor)
    assert third.events == () and not third.rotated


def test_malformed_lines_and_invalid_bytes_are_counted_not_fatal(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(
        b"Job started without a timestamp\n"
        b"2026-02-01 12:00:00.000 info: Job started: \xff\xfe\n"
        b"2026-02-01 12:00:00.000 info: PoolMonitor lost its number\n"
        b"2026-02-01 12:00:01.000 info: Job completed: Live Stats Sync\n"
    )
    result = scan(ssh_transport, sshd, log, None)
    assert result.malformed == 3
    assert [event.kind for event in result.events] == [EventKind.JOB_COMPLETED]


def test_a_missing_log_file_is_an_error_naming_it(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    with pytest.raises(RemoteError, match=r"combined\.log not found"):
        scan(ssh_transport, sshd, tmp_path / "combined.log", None)


def test_a_scan_far_bigger_than_the_output_limit_streams_and_loses_nothing(
    sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(3000, seed=4))
    small = SshTransport(sshd.client_key, sshd.known_hosts, max_output_bytes=120_000)
    result = scan(small, sshd, log, None)
    assert kinds(result)[EventKind.JOB_STARTED] == grep_count(log, "Job started")
    assert [e.value for e in result.events if e.kind is EventKind.POOL] == pool_values(log)
    assert result.cursor.offset == log.stat().st_size


def test_a_long_partial_last_line_is_found_and_waits(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(
        b"2026-02-01 12:00:00.000 info: Job started: A\n"
        b"2026-02-01 12:00:01.000 info: Job started: B " + b"x" * 40000
    )
    first = scan(ssh_transport, sshd, log, None)
    assert [event.job for event in first.events] == ["A"]
    assert first.cursor.offset == len(b"2026-02-01 12:00:00.000 info: Job started: A\n")


class CountingSession:
    """A real SSH session that also counts the commands and the bytes each sent back."""

    def __init__(self, session: RemoteSession) -> None:
        self.session = session
        self.results: list[CommandResult] = []
        self.received: list[int] = []

    def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float = 30.0,
        on_stdout: OutputSink | None = None,
    ) -> CommandResult:
        self.received.append(0)

        def counted(piece: bytes) -> None:
            self.received[-1] += len(piece)
            if on_stdout is not None:
                on_stdout(piece)

        result = self.session.run(command, stdin=stdin, timeout=timeout, on_stdout=counted)
        self.results.append(result)
        return result


def batches(
    transport: SshTransport, sshd: SshdServer, path: Path, cursor: LogCursor | None, size: int
) -> tuple[list[ScanBatch], CountingSession]:
    with transport.connect(sshd.host_address) as session:
        counting = CountingSession(session)
        found = list(
            scan_batches(
                counting, str(sshd.host_address), str(path), SPEC, cursor, batch_events=size
            )
        )
        return found, counting


def test_a_scan_is_one_ssh_command_even_across_a_rotation(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(500, seed=5))
    first, commands = batches(ssh_transport, sshd, log, None, 10_000)
    assert len(commands.results) == 1
    with log.open("ab") as handle:
        handle.write(generate(100, seed=6, minute=10))
    log.rename(tmp_path / "combined.log.1")
    log.write_bytes(generate(100, seed=7, minute=20))
    second, commands = batches(ssh_transport, sshd, log, first[-1].cursor, 10_000)
    assert len(commands.results) == 1
    assert second[-1].rotated
    assert second[-1].cursor == LogCursor(os.stat(log).st_ino, log.stat().st_size)
    rest = tmp_path / "rest.log"
    rest.write_bytes(generate(100, seed=6, minute=10) + generate(100, seed=7, minute=20))
    started = [e for b in second for e in b.events if e.kind is EventKind.JOB_STARTED]
    assert len(started) == grep_count(rest, "Job started")


def test_only_matching_lines_cross_the_network_compressed(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    noise = b"2026-02-01 12:00:00.000 info: GET /api/matches/1234/live 200 18ms\n" * 99
    relevant = b"2026-02-01 12:00:45.120 info: Job started: Live Stats Sync\n"
    log = tmp_path / "combined.log"
    log.write_bytes((noise + relevant) * 200)
    found, commands = batches(ssh_transport, sshd, log, None, 10_000)
    assert sum(len(batch.events) for batch in found) == 200
    assert commands.received[0] < len(relevant) * 200  # matching lines only, and gzip'd


def test_batches_carry_the_cursor_after_their_last_line_so_a_scan_can_be_stored_as_it_goes(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(3000, seed=8))
    whole = scan(ssh_transport, sshd, log, None)
    found, _ = batches(ssh_transport, sshd, log, None, 100)
    assert all(len(batch.events) <= 100 for batch in found) and len(found) > 5
    assert [e for batch in found for e in batch.events] == list(whole.events)
    assert sum(batch.bytes_scanned for batch in found) == whole.bytes_scanned == log.stat().st_size
    assert found[-1].cursor == whole.cursor
    # A scan stopped after any batch goes on from its cursor: nothing twice, nothing lost.
    for index in (0, len(found) // 2, len(found) - 2):
        stored = [e for batch in found[: index + 1] for e in batch.events]
        rest = scan(ssh_transport, sshd, log, found[index].cursor)
        assert stored + list(rest.events) == list(whole.events)


def test_a_rotated_file_bigger_than_the_output_limit_is_read_to_its_end_then_the_new_one(
    sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(b"2026-02-01 12:00:00.000 info: Job started: A\n")
    small = SshTransport(sshd.client_key, sshd.known_hosts, max_output_bytes=20_000)
    first = scan(small, sshd, log, None)
    # Random pool values compress poorly, so the old file's rest overflows the limit.
    added = generate(4000, seed=9)
    with log.open("ab") as handle:
        handle.write(added)
    log.rename(tmp_path / "combined.log.1")
    log.write_bytes(b"2026-02-01 13:00:00.000 info: Job started: Z\n")
    found, commands = batches(small, sshd, log, first.cursor, 10_000)
    # Streamed: one command, its output far past the limit, none of it cut.
    assert len(commands.results) == 1 and commands.received[0] > 20_000
    only_added = tmp_path / "added.log"
    only_added.write_bytes(added)
    events = [e for batch in found for e in batch.events]
    assert [e.value for e in events if e.kind is EventKind.POOL] == pool_values(only_added)
    starts = [e.job for e in events if e.kind is EventKind.JOB_STARTED]
    assert len(starts) == grep_count(only_added, "Job started") + 1 and starts[-1] == "Z"
    assert found[-1].cursor == LogCursor(os.stat(log).st_ino, log.stat().st_size)


def test_a_caller_that_stops_after_one_batch_leaves_no_command_behind(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(3000, seed=8))
    with ssh_transport.connect(sshd.host_address) as session:
        scanning = scan_batches(session, "host", str(log), SPEC, None, batch_events=100)
        first = next(scanning)
        scanning.close()  # e.g. the store refused the batch: another scan got there first
        # The session is free again: the next command runs and answers.
        assert session.run("echo free", timeout=10).stdout == b"free\n"
    assert len(first.events) == 100


def test_a_caller_that_stops_at_the_last_batch_is_not_left_waiting(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    # One batch, which is also the last: the store refusing it (another scan stored these
    # lines first) used to leave the scan waiting for an end it had already read.
    log = tmp_path / "combined.log"
    log.write_bytes(generate(200, seed=3))
    stopped: list[ScanBatch] = []

    def scan_and_stop() -> None:
        with ssh_transport.connect(sshd.host_address) as session:
            for batch in scan_batches(session, "host", str(log), SPEC, None):
                stopped.append(batch)
                break

    scanner = threading.Thread(target=scan_and_stop, daemon=True)
    scanner.start()
    scanner.join(timeout=30)

    assert not scanner.is_alive(), "the scan hung after its caller stopped"
    assert len(stopped) == 1 and stopped[0].events


class CutOffSession(CountingSession):
    """A session whose output loses its last bytes on the way, though the command ran
    well (exit 0): what a connection cut at the wrong moment would look like."""

    def run(
        self,
        command: str,
        *,
        stdin: bytes | None = None,
        timeout: float = 30.0,
        on_stdout: OutputSink | None = None,
    ) -> CommandResult:
        held = bytearray()

        def all_but_the_end(piece: bytes) -> None:
            held.extend(piece)
            if len(held) > 16 and on_stdout is not None:
                on_stdout(bytes(held[:-16]))
                del held[:-16]

        return super().run(command, stdin=stdin, timeout=timeout, on_stdout=all_but_the_end)


def test_output_cut_off_on_the_way_is_an_error_not_a_short_count(
    ssh_transport: SshTransport, sshd: SshdServer, tmp_path: Path
) -> None:
    log = tmp_path / "combined.log"
    log.write_bytes(generate(500, seed=11))
    with ssh_transport.connect(sshd.host_address) as session:
        cut = CutOffSession(session)
        with pytest.raises(RemoteError, match="output was cut off"):
            list(scan_batches(cut, "host", str(log), SPEC, None))
