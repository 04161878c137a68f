"""The store's schema version, and the forward migrations that bring an older store up
to it.

`upgrade` runs at store start, inside one transaction. A fresh store is made as declared
in `bot.store.tables` and stamped with `SCHEMA_VERSION`; an older store gets each
migration after its version, in order, then every declared table it lacks, then the new
version; a store written by a newer stagger-bot is refused. The version lives in `meta`
under `schema_version` (stores made before this registry say "1"). The SQLite-only parts
are the two look-ups at the bottom (which tables and columns a store has); on PostgreSQL
the same DDL is translated by `bot.store.pg_dialect`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.errors import StoreError
from bot.store.database import Database
from bot.store.tables import INTEGER, SQL_TYPES, TABLES, TEXT, Column, create_statements, quoted

VERSION_KEY = "schema_version"


# -- migrations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """Takes a store from `version - 1` to `version`. It changes only the tables the store
    has (a table it lacks is made afterwards, as declared now), and it must hold for every
    store that version - 1 describes, so it looks before it changes."""

    version: int
    description: str
    apply: Callable[[Database], None]


def _add_columns(db: Database, columns: tuple[tuple[str, Column], ...]) -> None:
    """Each column added to its table where the store has the table and not the column."""
    tables = table_names(db)
    for table, column in columns:
        if table in tables and column.name not in column_names(db, table):
            db.execute(
                f"ALTER TABLE {quoted(table)} "
                f"ADD COLUMN {quoted(column.name)} {SQL_TYPES[column.type]}"
            )


def _v1_additions(db: Database) -> None:
    # Version 1 added these by hand as they came, and made most tables only when a
    # repository first used them: a version 1 store may have any of them or none.
    _add_columns(
        db,
        (
            ("approvals", Column("executor", TEXT)),
            ("scheduled_checks", Column("runner", TEXT)),
            ("log_cursors", Column("head", INTEGER)),
            ("breaches", Column("reminded_at", TEXT)),
        ),
    )
    if "log_events" in table_names(db):
        # The first stores indexed log_events by (env, at); reads are per host since.
        db.execute(f"DROP INDEX IF EXISTS {quoted('idx_log_events_env_at')}")
        db.execute(
            f"CREATE INDEX IF NOT EXISTS {quoted('idx_log_events_env_host_at')} "
            'ON "log_events" ("env", "host", "at")'
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "the columns and index version 1 added ad hoc (approvals.executor, "
        "scheduled_checks.runner, log_cursors.head, breaches.reminded_at, log_events by "
        "host) are there; every table is made at start",
        _v1_additions,
    ),
    Migration(
        3,
        "executions and validation checks are owned by a lease in the store, timed by the "
        "wall clock (approvals.lease_expires_at, scheduled_checks.lease_expires_at)",
        lambda db: _add_columns(
            db,
            (
                ("approvals", Column("lease_expires_at", TEXT)),
                ("scheduled_checks", Column("lease_expires_at", TEXT)),
            ),
        ),
    ),
    Migration(
        4,
        "the audit trail is an HMAC chain under STAGGER_AUDIT_KEY; audit.chain names each "
        "row's key (NULL: a plain SHA-256 row from before)",
        lambda db: _add_columns(db, (("audit", Column("chain", TEXT)),)),
    ),
    Migration(
        5,
        "a post queued in the outbox names the approval request it is "
        "(outbox.request_id), so its ts is stored for the request when it is delivered",
        lambda db: _add_columns(db, (("outbox", Column("request_id", TEXT)),)),
    ),
    Migration(
        6,
        "a checkpoint keeps the window it measured (checkpoints.window_start, window_end): "
        "the next one compares counts with it per hour and names it",
        lambda db: _add_columns(
            db,
            (
                ("checkpoints", Column("window_start", TEXT)),
                ("checkpoints", Column("window_end", TEXT)),
            ),
        ),
    ),
    Migration(
        7,
        "each completed run's duration is kept (run_durations), for the judge's samples "
        "after the app's table has lost them; a new table only, made after the migrations",
        lambda db: None,
    ),
    Migration(
        8,
        "an env may be locked against transitions (env_locks: who, why, since, until, "
        "released by whom); a new table only, made after the migrations",
        lambda db: None,
    ),
    Migration(
        9,
        "an approval request keeps the plan it covers (approvals.plan, its JSON): a spec "
        "reload that changes the plan lapses the request; NULL: a request from before",
        lambda db: _add_columns(db, (("approvals", Column("plan", TEXT)),)),
    ),
    Migration(
        10,
        "each phase keeps the ts of its start message, the thread of its alerts "
        "(phase_history.thread_ts); an alert keeps who acknowledged it and when, and its "
        "text as posted (breaches.acknowledged_by, acknowledged_at, message_text)",
        lambda db: _add_columns(
            db,
            (
                ("phase_history", Column("thread_ts", TEXT)),
                ("breaches", Column("acknowledged_by", TEXT)),
                ("breaches", Column("acknowledged_at", TEXT)),
                ("breaches", Column("message_text", TEXT)),
            ),
        ),
    ),
    Migration(
        11,
        "each host's outcome of an execution is kept (execution_hosts), and a transition "
        "soaking after its canary tier is parked with its due time (soaks); new tables "
        "only, made after the migrations",
        lambda db: None,
    ),
)

SCHEMA_VERSION = 11


def stored_version(db: Database, where: str) -> int | None:
    """The store's schema version; None for a store with none of the tables yet. A store
    this code cannot read (newer, or its version unreadable) is refused."""
    tables = table_names(db)
    if "meta" not in tables:
        if tables & {table.name for table in TABLES}:
            raise StoreError(f"the store at {where} has stagger-bot tables but no schema version")
        return None
    row = db.execute("SELECT value FROM meta WHERE key = ?", [VERSION_KEY]).fetchone()
    if row is None or not str(row[0]).isdigit():
        raise StoreError(f"the store at {where} has no readable schema version")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store at {where} was written by a newer stagger-bot "
            f"(schema {version}; this one knows {SCHEMA_VERSION})"
        )
    return version


def upgrade(db: Database, where: str) -> int | None:
    """Bring the store to SCHEMA_VERSION, in the caller's transaction; the version it had
    (None: it was new)."""
    found = stored_version(db, where)
    for migration in MIGRATIONS:
        if found is not None and migration.version > found:
            migration.apply(db)
    # Every declared table and index, where missing (IF NOT EXISTS): a new index on an
    # old table is made too, without a migration of its own.
    for table in TABLES:
        for statement in create_statements(table):
            db.execute(statement)
    if found is None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)", [VERSION_KEY, str(SCHEMA_VERSION)]
        )
    elif found != SCHEMA_VERSION:
        db.execute("UPDATE meta SET value = ? WHERE key = ?", [str(SCHEMA_VERSION), VERSION_KEY])
    return found


# -- what a store has (SQLite) ---------------------------------------------------------


def table_names(db: Database) -> set[str]:
    return set(db.table_names())


def column_names(db: Database, table: str) -> set[str]:
    return set(db.table(table).columns_dict)
