"""Audit trail: `/stagger audit` (latest 20 for an env) and `audit verify` on 1,000,000 rows.

    python3 -m bench.audit_trail [--rows 1000000] [--small 100000] [--runs 200]

The trail is filled in batches with rows written exactly as `bot.store.audit.AuditTrail.record`
writes them (same columns, same HMAC chain under the tests' audit key, the head kept in
`meta`), first to
`--small` rows, then grown to `--rows`. At each size:

- the query: `AuditTrail.latest(env, 20)` and the whole `/stagger audit prod` command
  (`commands.dispatch`, reply text included), median and maximum of `--runs` calls;
- verify: `stagger-bot audit verify` in a fresh process, its wall time and its peak
  RSS (`os.wait4`'s rusage for that child alone). Bounded memory means the peak at
  1M rows is about the peak at 100k.

Goals (issue 7): the query under 20 ms; verify streams in bounded memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import MACHINE_NOTE, median, print_table, timed, verdict
from bot.core.audit_key import parse_key
from bot.core.clock import ManualClock, isoformat
from bot.core.replies import Invocation
from bot.core.spec import Spec, parse_spec
from bot.runtime import build_context
from bot.settings import Settings
from bot.store.audit import FIELDS, chain_of, keyed_hash
from commands import dispatch
from tests.support.spec_data import AUDIT_KEY, OPERATOR, spec_data

QUERY_GOAL_S = 0.020
BATCH = 20_000
# A realistic mix: most entries are commands and checkpoints of the two environments,
# some have no environment (help, the scheduler's own bookkeeping).
ENVS = ("prod", "staging", "prod", "staging", None)
ACTIONS = ("command.status", "checkpoint.posted", "rollback.requested", "approval.approved")
_GENESIS = "0" * 64
VERIFY = "import sys; from bot.cli import main; sys.exit(main())"  # = `stagger-bot`
KEY = parse_key(AUDIT_KEY)
COLUMNS = (*FIELDS, "chain", "prev_hash", "hash")


def fill(db_path: Path, upto: int) -> float:
    """Appends rows until the trail holds `upto`, keeping the chain valid; the seconds."""
    started = time.perf_counter()
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        head = connection.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        last_id, prev = (0, _GENESIS)
        if head is not None:
            head_id, prev = str(head[0]).split(":", 1)
            last_id = int(head_id)
        at = datetime(2026, 1, 1, tzinfo=UTC)  # row n is n seconds after this
        insert = (
            f"INSERT INTO audit ({', '.join(COLUMNS)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(COLUMNS))})"
        )
        while last_id < upto:
            batch: list[tuple[object, ...]] = []
            batch_end = min(upto, last_id + BATCH)
            for number in range(last_id + 1, batch_end + 1):
                row: dict[str, object] = {
                    "id": number,
                    "at": isoformat(at + timedelta(seconds=number)),
                    "actor": "U0OPS1" if number % 3 else "bot",
                    "source": "slack" if number % 3 else "scheduler",
                    "action": ACTIONS[number % len(ACTIONS)],
                    "env": ENVS[number % len(ENVS)],
                    "args": json.dumps({"n": number, "text": "status"}, sort_keys=True),
                    "outcome": "ok",
                    "detail": f"bench row {number}",
                    "chain": chain_of(KEY),
                }
                row["prev_hash"] = prev
                row["hash"] = prev = keyed_hash(KEY, prev, row)
                batch.append(tuple(row[name] for name in COLUMNS))
            last_id = batch_end
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(insert, batch)
            connection.execute(
                "INSERT INTO meta (key, value) VALUES ('audit_head', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"{last_id}:{prev}",),
            )
            connection.execute("COMMIT")
    finally:
        connection.close()
    return time.perf_counter() - started


def query_times(tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    """`AuditTrail.latest('prod', 20)` and the whole `/stagger audit prod` command."""
    settings = Settings.from_environ(
        {"STAGGER_DB": str(tmp / "stagger.db"), "STAGGER_AUDIT_KEY": AUDIT_KEY}
    )
    context = build_context(settings, _spec(tmp), clock=ManualClock(datetime.now(UTC)))
    latest = [timed(lambda: context.audit.latest("prod", 20))[0] for _ in range(runs)]
    invocation = Invocation(user=OPERATOR, text="audit prod", source="cli")
    command = [timed(lambda: dispatch(context, invocation))[0] for _ in range(runs)]
    return latest, command


def verify(tmp: Path) -> tuple[float, float, str]:
    """`stagger-bot audit verify` in its own process: seconds, peak RSS (MB), its output."""
    environment = {
        **os.environ,
        "STAGGER_DB": str(tmp / "stagger.db"),
        "STAGGER_CONFIG": str(tmp / "stagger.toml"),
        "STAGGER_AUDIT_KEY": AUDIT_KEY,
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", VERIFY, "audit", "verify"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or "chain intact" not in output:
        raise RuntimeError(f"audit verify failed ({process.returncode}): {output}")
    return seconds, usage.ru_maxrss / 1024, output.strip()


def _spec(tmp: Path) -> Spec:
    data = spec_data(["bench@127.0.0.1:22"], tmp, known_hosts=tmp / "kh", key_file=tmp / "key")
    return parse_spec(data)


def _write_spec(tmp: Path) -> None:
    """The spec `stagger-bot audit verify` loads (it reads the config before the store)."""
    text = Path("stagger.example.toml").read_text(encoding="utf-8")
    (tmp / "stagger.toml").write_text(text, encoding="utf-8")


def main(rows: int = 1_000_000, small: int = 100_000, runs: int = 200) -> None:
    results: list[tuple[int, float, list[float], list[float], float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        _write_spec(tmp)
        settings = Settings.from_environ(
            {"STAGGER_DB": str(tmp / "stagger.db"), "STAGGER_AUDIT_KEY": AUDIT_KEY}
        )
        build_context(settings, _spec(tmp))  # creates the store and the audit table
        for size in sorted({small, rows}):
            fill_s = fill(tmp / "stagger.db", size)
            print(f"filled the audit trail to {size:,} rows (+{fill_s:.1f} s)", flush=True)
            latest, command = query_times(tmp, runs)
            verify_s, peak_mb, output = verify(tmp)
            print(f"  {output}", flush=True)
            results.append((size, fill_s, latest, command, verify_s, peak_mb))
    table: list[list[object]] = []
    for size, _fill_s, latest, command, _verify_s, _peak_mb in results:
        for name, times in (("latest('prod', 20)", latest), ("/stagger audit prod", command)):
            table.append(
                [
                    f"{name}, {size:,} rows",
                    f"{median(times) * 1000:.3f} ms",
                    f"{max(times) * 1000:.3f} ms",
                    median(times) / QUERY_GOAL_S,
                    verdict(max(times) / QUERY_GOAL_S),
                ]
            )
    print_table(
        f"Audit trail query (median and max of {runs} calls; ratio = median / 20 ms goal)",
        ["measure", "median", "max", "ratio to 20 ms", "goal (max)"],
        table,
    )
    base = results[0]
    verify_rows: list[list[object]] = []
    for size, _fill_s, _l, _c, verify_s, peak_mb in results:
        verify_rows.append(
            [
                f"audit verify, {size:,} rows",
                f"{verify_s:.2f} s",
                f"{size / verify_s:,.0f}",
                f"{peak_mb:.1f} MB",
                peak_mb / base[5],
                f"{size / base[0]:.0f}x",
            ]
        )
    print_table(
        "Audit verify (its own process; peak RSS from wait4; ratios to the smallest size)",
        ["measure", "wall", "rows/s", "peak RSS", "RSS ratio", "rows ratio"],
        verify_rows,
    )
    print(f"({MACHINE_NOTE})")


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Audit trail query and verify benchmark.")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    arguments = parser.parse_args(argv)
    main(arguments.rows, arguments.small, arguments.runs)


if __name__ == "__main__":
    cli()
