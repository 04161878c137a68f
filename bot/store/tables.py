"""Every table of the store, declared once (name, columns, key, indexes), and the plain
SQL that makes one. The column types are portable (text, integer, real) and the DDL is
plain SQL (quoted identifiers, IF NOT EXISTS, table-level PRIMARY KEY), so the same
tables can be made on another engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "integer", "real"]
TEXT: ColumnType = "text"
INTEGER: ColumnType = "integer"
REAL: ColumnType = "real"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]

    def name(self, table: str) -> str:
        """`idx_<table>_<columns>`: the name sqlite-utils gave the indexes of older stores."""
        return f"idx_{table}_{'_'.join(self.columns)}"


@dataclass(frozen=True)
class Table:
    """One table. `generated_key`: the single integer primary key is assigned by the store
    when a row leaves it out (on SQLite the key is the rowid; PostgreSQL needs an identity).
    A table without a primary key (`log_events`) is read and pruned by SQLite's rowid."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()
    generated_key: bool = False

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a column is declared twice")
        for wanted in (*self.primary_key, *(c for index in self.indexes for c in index.columns)):
            if wanted not in names:
                raise ValueError(f"{self.name}: no column {wanted!r}")
        if self.generated_key and (
            len(self.primary_key) != 1 or self.column(self.primary_key[0]).type != INTEGER
        ):
            raise ValueError(f"{self.name}: a generated key is one integer column")

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _columns(*declared: tuple[str, ColumnType]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in declared)


# Column order is the order older stores have (columns added later come last), so a fresh
# store and an upgraded one look alike.
TABLES: tuple[Table, ...] = (
    Table(
        "meta",
        _columns(("key", TEXT), ("value", TEXT)),
        primary_key=("key",),
    ),
    Table(
        "env_state",
        _columns(
            ("env", TEXT),
            ("phase", TEXT),
            ("stagger_enabled", INTEGER),
            ("since", TEXT),
            ("disabled_jobs", TEXT),
            ("note", TEXT),
        ),
        primary_key=("env",),
    ),
    Table(
        "approvals",
        _columns(
            ("id", TEXT),
            ("action", TEXT),
            ("env", TEXT),
            ("args", TEXT),
            ("requester", TEXT),
            ("reason", TEXT),
            ("created_at", TEXT),
            ("expires_at", TEXT),
            ("required", INTEGER),
            ("status", TEXT),
            ("approved_by", TEXT),
            ("decided_by", TEXT),
            ("decided_at", TEXT),
            ("channel", TEXT),
            ("message_ts", TEXT),
            ("outcome", TEXT),
            ("executor", TEXT),
            ("lease_expires_at", TEXT),
            ("plan", TEXT),
        ),
        primary_key=("id",),
        indexes=(Index(("env", "status")),),
    ),
    Table(
        "seen_requests",
        _columns(("key", TEXT), ("at", TEXT)),
        primary_key=("key",),
    ),
    Table(
        "phase_history",
        _columns(
            ("id", INTEGER),
            ("phase", TEXT),
            ("env", TEXT),
            ("started_at", TEXT),
            ("ended_at", TEXT),
            ("ended_how", TEXT),
            ("request_id", TEXT),
            ("approved_by", TEXT),
            ("forced", INTEGER),
            ("note", TEXT),
            ("thread_ts", TEXT),  # the phase's start message: its alerts' thread
        ),
        primary_key=("id",),
        generated_key=True,
    ),
    Table(
        "silences",
        _columns(
            ("id", INTEGER),
            ("kpi", TEXT),
            ("until", TEXT),
            ("by", TEXT),
            ("reason", TEXT),
            ("created_at", TEXT),
            ("lifted_at", TEXT),
        ),
        primary_key=("id",),
        generated_key=True,
    ),
    Table(
        "breaches",
        _columns(
            ("id", INTEGER),
            ("env", TEXT),
            ("key", TEXT),
            ("opened_at", TEXT),
            ("closed_at", TEXT),
            ("detail", TEXT),
            ("message_ts", TEXT),
            ("reminded_at", TEXT),
            ("acknowledged_by", TEXT),
            ("acknowledged_at", TEXT),
            ("message_text", TEXT),  # the alert as posted, redrawn when acknowledged
        ),
        primary_key=("id",),
        indexes=(Index(("env", "key", "closed_at")),),
        generated_key=True,
    ),
    Table(
        "baselines",
        _columns(
            ("id", INTEGER),
            ("env", TEXT),
            ("captured_at", TEXT),
            ("window_start", TEXT),
            ("window_end", TEXT),
            ("captured_by", TEXT),
            ("kpi_values", TEXT),
        ),
        primary_key=("id",),
        generated_key=True,
    ),
    Table(
        "log_cursors",
        _columns(
            ("env", TEXT),
            ("host", TEXT),
            ("path", TEXT),
            ("inode", INTEGER),
            ("offset", INTEGER),
            ("head", INTEGER),
        ),
        primary_key=("env", "host", "path"),
    ),
    Table(
        "log_events",
        _columns(
            ("env", TEXT),
            ("host", TEXT),
            ("at", TEXT),
            ("kind", TEXT),
            ("job", TEXT),
            ("value", REAL),
        ),
        # Every read is one host's window; without the host in the index each host's read
        # walks every host's rows.
        indexes=(Index(("env", "host", "at")),),
    ),
    Table(
        "kpi_hours",
        _columns(("phase_id", INTEGER), ("hour", INTEGER), ("pool_avg", REAL), ("busiest", REAL)),
        primary_key=("phase_id", "hour"),
    ),
    Table(
        "outbox",
        _columns(
            ("id", INTEGER),
            ("method", TEXT),
            ("arguments", TEXT),
            ("queued_at", TEXT),
            ("attempts", INTEGER),
            ("last_error", TEXT),
            ("delivered_at", TEXT),
            ("request_id", TEXT),  # the approval request a post is, if it is one
        ),
        primary_key=("id",),
        generated_key=True,
    ),
    Table(
        "scheduled_checks",
        _columns(
            ("id", INTEGER),
            ("env", TEXT),
            ("phase_id", INTEGER),
            ("label", TEXT),
            ("due_at", TEXT),
            ("thread_ts", TEXT),
            ("status", TEXT),
            ("result", TEXT),
            ("runner", TEXT),
            ("lease_expires_at", TEXT),
        ),
        primary_key=("id",),
        indexes=(Index(("status", "due_at")),),
        generated_key=True,
    ),
    Table(
        "checkpoints",
        _columns(
            ("id", INTEGER),
            ("env", TEXT),
            ("phase_id", INTEGER),
            ("slot", TEXT),
            ("kpi_values", TEXT),
            ("verdicts", TEXT),
            ("all_met", INTEGER),
            ("message_ts", TEXT),
            ("window_start", TEXT),
            ("window_end", TEXT),
        ),
        primary_key=("id",),
        indexes=(Index(("env", "phase_id")),),
        generated_key=True,
    ),
    Table(
        # The hash chain numbers its rows itself (id = the head's + 1): no generated key.
        "audit",
        _columns(
            ("id", INTEGER),
            ("at", TEXT),
            ("actor", TEXT),
            ("source", TEXT),
            ("action", TEXT),
            ("env", TEXT),
            ("args", TEXT),
            ("outcome", TEXT),
            ("detail", TEXT),
            ("prev_hash", TEXT),
            ("hash", TEXT),
            ("chain", TEXT),
        ),
        primary_key=("id",),
        indexes=(Index(("env", "id")),),
    ),
    Table(
        # Each completed run's duration, as the database (or the log) gave it: the judge's
        # samples, kept after the app's own table has lost them.
        "run_durations",
        _columns(
            ("env", TEXT),
            ("job", TEXT),
            ("started_at", TEXT),
            # Runs of one job that started at the same moment (on other hosts), told apart.
            ("ordinal", INTEGER),
            ("duration_ms", REAL),
            ("source", TEXT),
        ),
        primary_key=("env", "job", "started_at", "ordinal"),
        # A window is read over every job: by (env, started_at), not per job.
        indexes=(Index(("env", "started_at")),),
    ),
    Table(
        # An env held against transitions by a person (`/stagger lock`), until released
        # by a person or, at `expires_at`, by the scheduler.
        "env_locks",
        _columns(
            ("id", INTEGER),
            ("env", TEXT),
            ("holder", TEXT),
            ("reason", TEXT),
            ("acquired_at", TEXT),
            ("expires_at", TEXT),
            ("released_at", TEXT),
            ("released_by", TEXT),
        ),
        primary_key=("id",),
        indexes=(Index(("env", "released_at")),),
        generated_key=True,
    ),
    Table(
        # Where each host of an execution stands (its tier, verified / failed / not
        # started), written as each host finishes: a crash mid-rollout leaves the record.
        "execution_hosts",
        _columns(
            ("request_id", TEXT),
            ("host", TEXT),
            ("ordinal", INTEGER),
            ("tier", TEXT),
            ("state", TEXT),
            ("detail", TEXT),
            ("at", TEXT),
        ),
        primary_key=("request_id", "host"),
    ),
    Table(
        # A transition parked after its canary tier until `due_at` (the soak), continued
        # by the canary_soak job on the rollout's clock, whichever process runs it.
        "soaks",
        _columns(
            ("request_id", TEXT),
            ("env", TEXT),
            ("phase_id", INTEGER),
            ("due_at", TEXT),
            ("status", TEXT),
            ("result", TEXT),
        ),
        primary_key=("request_id",),
        indexes=(Index(("status", "due_at")),),
    ),
)

SQL_TYPES: dict[ColumnType, str] = {TEXT: "TEXT", INTEGER: "INTEGER", REAL: "REAL"}


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_statements(table: Table) -> list[str]:
    """The DDL that makes `table` and its indexes where they do not exist yet."""
    lines = [f"{quoted(column.name)} {SQL_TYPES[column.type]}" for column in table.columns]
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(map(quoted, table.primary_key))})")
    statements = [
        f"CREATE TABLE IF NOT EXISTS {quoted(table.name)} (\n   " + ",\n   ".join(lines) + "\n)"
    ]
    statements.extend(
        f"CREATE INDEX IF NOT EXISTS {quoted(index.name(table.name))} "
        f"ON {quoted(table.name)} ({', '.join(map(quoted, index.columns))})"
        for index in table.indexes
    )
    return statements
