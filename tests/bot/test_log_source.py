"""Incremental log scans over a real sshd, checked against the runbook's own commands."""

from __future__ import annotations

import os
import random
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bot.errors import RemoteError
from bot.log_lines import EventKind
from bot.log_source import LogCursor, ScanResult, scan_log
from bot.remote import SshTransport
from bot.spec import LogSpec
from tests.ssh_fixtures import SshdServer

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


def test_a_scan_bigger_than_the_output_limit_is_read_in_chunks_and_loses_nothing(
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
