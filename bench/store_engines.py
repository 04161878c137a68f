"""The store on PostgreSQL beside SQLite: slash-command ack p99 and a rollback's click →
verified, each as a ratio of PostgreSQL's to SQLite's.

    python3 -m bench.store_engines [DURATION_S] [ROLLBACKS]

The same bot twice (`start_bot` of tests/support/served_bot.py, real SSH to a loopback
sshd, the Web API stand-in), once with STAGGER_DB a file, once a DSN of the machine's
PostgreSQL (127.0.0.1:5432, database `test`, a schema of its own, dropped after). For
each: 20 closed-loop senders post Slack-signed `/stagger status` for DURATION_S seconds
(bench/ack_load.py's senders, in their own process), then ROLLBACKS rollbacks are
requested, approved and timed to "verified on all" (as bench/rollback_latency.py).
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

from bench.ack_load import run_senders
from bench.harness import MACHINE_NOTE, percentile, print_table
from bench.rollback_latency import timed_rollbacks
from bot.core.clock import SystemClock
from bot.core.spec import parse_spec
from bot.rehearsal.slack_standin import SlackStandIn
from tests.support.served_bot import start_bot
from tests.support.spec_data import make_app_dir, spec_data
from tests.support.ssh_fixtures import SshdServer

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    name = f"stagger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{SERVER}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def measure(tmp: Path, store: str, duration: float, rollbacks: int) -> tuple[float, float]:
    """The ack p99 and the median rollback, in seconds, with the store at `store`."""
    sshd = SshdServer(tmp / "sshd")
    slack = SlackStandIn()
    app_dir = make_app_dir(tmp / "host")
    spec = parse_spec(
        spec_data(
            [str(sshd.host_address)], app_dir, known_hosts=sshd.known_hosts,
            key_file=sshd.client_key,
        )
    )  # fmt: skip
    bot, (server, executor), _thread = start_bot(
        tmp, slack, SystemClock(), spec, app_dir, environ={"STAGGER_DB": store}
    )
    try:
        latencies, failures = run_senders(bot.sender.port, 20, duration)
        assert failures == 0, f"{failures} request(s) failed on {store}"
        timings = timed_rollbacks(bot, slack, app_dir, rollbacks)
    finally:
        server.close()
        executor.shutdown(wait=True)
        bot.store.close()
        slack.close()
        sshd.stop()
    return percentile(latencies, 0.99), statistics.median(timings)


def main(duration: float = 20.0, rollbacks: int = 10) -> None:
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        sqlite = measure(tmp / "sqlite", str(tmp / "sqlite" / "stagger.db"), duration, rollbacks)
        with postgres_schema() as dsn:
            postgres = measure(tmp / "postgres", dsn, duration, rollbacks)
    print_table(
        f"The store's engine: /stagger status ack p99 (20 senders x {duration:g} s) and "
        f"rollback click → verified (median of {rollbacks})",
        ["measure", "SQLite ms", "PostgreSQL ms", "PostgreSQL / SQLite"],
        [
            ["ack p99", f"{sqlite[0] * 1000:.1f}", f"{postgres[0] * 1000:.1f}",
             postgres[0] / sqlite[0]],
            ["rollback, median", f"{sqlite[1] * 1000:.1f}", f"{postgres[1] * 1000:.1f}",
             postgres[1] / sqlite[1]],
        ],
    )  # fmt: skip
    print(f"({MACHINE_NOTE})")


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 20.0,
        int(sys.argv[2]) if len(sys.argv) > 2 else 10,
    )
