"""The store on PostgreSQL, where replicas on several machines share it: writers on
separate connections and processes are serialized as SQLite's one writer is (one audit
chain, one first delivery, one claim), the schema comes from the same declarations, and
a server that cannot be reached is named without the DSN's password."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.core.approvals import Status
from bot.core.audit_key import parse_keys
from bot.core.errors import StoreError
from bot.store.audit import AuditEntry, AuditTrail
from bot.store.executions import Executions
from bot.store.lease import Lease
from bot.store.schema import SCHEMA_VERSION
from bot.store.silences import Silences
from bot.store.store import Store
from bot.store.tables import TABLES
from tests.store.test_store import pending
from tests.support.spec_data import AUDIT_KEY
from tests.support.ssh_fixtures import free_port
from tests.support.store_backends import SERVER, StoreFactory, drop_schema

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
KEYS = parse_keys(AUDIT_KEY, None)

APPEND_ENTRIES = """
import sys
from datetime import UTC, datetime
from bot.core.audit_key import parse_keys
from bot.store.audit import AuditEntry, AuditTrail
from bot.store.store import Store
store = Store(sys.argv[1])
trail = AuditTrail(store, keys=parse_keys(sys.argv[2], None))
for number in range(int(sys.argv[3])):
    trail.record(AuditEntry("bot", "bot", "process." + sys.argv[4], None, {"n": number}),
                 datetime.now(UTC))
store.close()
"""


def all_at_once(workers: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        start.wait()
        try:
            work()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_audit_appends_from_many_connections_and_two_processes_make_one_verified_chain(
    pg_store: StoreFactory,
) -> None:
    trails = [AuditTrail(pg_store(), keys=KEYS) for _ in range(4)]

    def append(trail: AuditTrail, name: str) -> Callable[[], None]:
        def work() -> None:
            for number in range(15):
                trail.record(
                    AuditEntry("U0OPS1", "slack", f"thread.{name}", "prod", {"n": number}), NOW
                )

        return work

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPEND_ENTRIES, str(pg_store.location), AUDIT_KEY, "15", name]
        )
        for name in ("first", "second")
    ]
    try:
        all_at_once([append(trail, str(n)) for n, trail in enumerate(trails)])
    finally:
        exits = [process.wait(timeout=120) for process in processes]
    assert exits == [0, 0]

    result = AuditTrail(pg_store(), keys=KEYS).verify()
    assert result.ok, result.problem
    assert result.rows_checked == 6 * 15
    assert result.newest is not None and result.newest.id == 6 * 15
    actions = [row["action"] for row in AuditTrail(pg_store(), keys=KEYS).rows()]
    assert actions.count("process.first") == actions.count("process.second") == 15


def test_a_delivery_seen_on_two_connections_at_once_is_first_on_one_only(
    pg_store: StoreFactory,
) -> None:
    stores = [pg_store(), pg_store()]
    firsts: list[bool] = []
    keys = [f"trigger:{number}" for number in range(30)]

    def deliver(store: Store) -> Callable[[], None]:
        return lambda: firsts.extend(store.first_time(key, NOW) for key in keys)

    all_at_once([deliver(store) for store in stores])
    assert firsts.count(True) == len(keys) and firsts.count(False) == len(keys)


def test_a_request_claimed_on_two_connections_at_once_runs_once(pg_store: StoreFactory) -> None:
    first, second = pg_store(), pg_store()
    first.add_request(pending())
    claims: list[bool] = []

    def claim(store: Store) -> Callable[[], None]:
        lease = datetime.now(UTC) + timedelta(minutes=1)
        return lambda: claims.append(
            Executions(store).claim("RABCDE", (Status.PENDING,), lease_until=lease).claimed
        )

    all_at_once([claim(first), claim(second)])
    assert sorted(claims) == [False, True]
    assert second.request("RABCDE") is not None
    assert second.request("RABCDE").status is Status.EXECUTING  # type: ignore[union-attr]


def test_every_declared_table_is_made_in_the_dsns_schema_at_the_current_version(
    pg_store: StoreFactory,
) -> None:
    store = pg_store()
    assert set(store.read().table_names()) == {table.name for table in TABLES}
    assert store.select("meta", "key = ?", ["schema_version"])[0]["value"] == str(SCHEMA_VERSION)
    with psycopg.connect(SERVER) as other:
        [(elsewhere,)] = other.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'audit' "
            "AND table_schema = %s",
            [str(pg_store.location).rsplit("%3D", 1)[1]],
        ).fetchall()
    assert elsewhere == 1


def test_a_generated_key_numbers_rows_as_sqlite_does(pg_store: StoreFactory) -> None:
    silences = Silences(pg_store())
    until = NOW + timedelta(hours=1)
    ids = [silences.add(kpi, until, "U0OPS1", "maintenance", NOW).id for kpi in ("a", "b")]
    assert ids == [1, 2]


def test_a_schema_named_in_the_dsn_is_made_if_missing() -> None:
    name = f"stagger_store_named_{uuid.uuid4().hex[:8]}"
    store = Store(f"{SERVER}?schema={name}")
    try:
        store.set_env_state(store.env_state("prod"))
        with psycopg.connect(SERVER) as other:
            found = other.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name = 'env_state'",
                [name],
            ).fetchone()
        assert found is not None
    finally:
        store.close()
        drop_schema(name)


def test_an_unreachable_server_is_named_without_the_password() -> None:
    port = free_port()
    with pytest.raises(StoreError) as refused:
        Store(f"postgresql://stagger:s3cret-horse@127.0.0.1:{port}/stagger", busy_timeout_s=2)
    message = str(refused.value)
    assert "s3cret-horse" not in message
    assert f"postgresql://stagger:***@127.0.0.1:{port}/stagger" in message
    assert "cannot open the store" in message


def test_a_wrong_password_is_refused_without_showing_it(password_postgres) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError) as refused:
        Store(password_postgres.dsn("not-the-password"), busy_timeout_s=2)
    message = str(refused.value)
    assert "not-the-password" not in message and "password authentication failed" in message


def test_a_postgresql_store_of_an_older_version_is_brought_up_by_the_same_migrations(
    pg_store: StoreFactory,
) -> None:
    pg_store().close()
    # As a store made at schema 9 was: without version 10's columns.
    pg_store.write('ALTER TABLE "phase_history" DROP COLUMN "thread_ts"')
    pg_store.write("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    store = pg_store()
    assert store.select("meta", "key = ?", ["schema_version"])[0]["value"] == str(SCHEMA_VERSION)
    assert "thread_ts" in store.read().table("phase_history").columns_dict


def test_of_replicas_taking_the_scheduler_lease_at_once_one_holds_it(
    pg_store: StoreFactory,
) -> None:
    leases = [Lease(pg_store(), f"replica-{number}:1") for number in range(4)]
    held: list[str] = []

    def take(lease: Lease) -> Callable[[], None]:
        return lambda: held.extend([lease.holder] if lease.hold(NOW) else [])

    all_at_once([take(lease) for lease in leases])
    assert len(held) == 1
    assert Lease(pg_store(), "nobody").current_holder(NOW) == held[0]
