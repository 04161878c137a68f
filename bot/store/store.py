"""The store: each environment's rollout state, approval requests, seen requests.

One SQLite file (WAL mode), or a PostgreSQL database shared by replicas
(`bot.store.backend`), used by the bot's threads; each thread has its own connection.
Writes that must not race (claiming a request for execution) are single conditional
UPDATEs, so a double click or a Slack retry can never run an action twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.approvals import ApprovalRequest, Status
from bot.core.clock import isoformat, parse_iso
from bot.core.errors import StoreError
from bot.core.plan import Plan
from bot.core.store_location import is_dsn
from bot.store import schema
from bot.store.backend import Backend, open_backend
from bot.store.database import Database
from bot.store.tables import quoted

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnvState:
    env: str
    phase: str
    stagger_enabled: bool | None
    since: datetime | None
    disabled_jobs: tuple[str, ...] = ()
    note: str = ""


class _ThreadConnection:
    """A thread's connection, as its thread-local holds it."""

    __slots__ = ("__weakref__", "db")

    def __init__(self, db: Database) -> None:
        self.db = db


class Store:
    def __init__(self, location: Path | str, *, busy_timeout_s: float = 10.0) -> None:
        """`location`: a file (SQLite) or a `postgresql://` DSN (PostgreSQL)."""
        self.location = location
        self._backend = open_backend(location, busy_timeout_s)
        self.where = self._backend.where
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        # Weak: a thread's connection goes with its thread (see `_db`).
        self._connections: weakref.WeakSet[Database] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        # The bot's threads queue here for the writer lock instead of in SQLite's busy
        # handler, which sleeps up to 100 ms between tries: that sleep was the slash
        # commands' p99 under load. Other processes still meet the busy timeout.
        self._writer = threading.RLock()
        # Once per Store, at start: every table of the schema, migrated to its version. A
        # store that is current is only read, so opening one never waits for the writer
        # lock; the transaction looks again, as another process may have just done it.
        where = self.where
        if schema.stored_version(self._db(), where) != schema.SCHEMA_VERSION:
            with self.transaction() as db:
                was = schema.upgrade(db, where)
            if was is not None and was != schema.SCHEMA_VERSION:
                logger.info(
                    "the store at %s was upgraded from schema %s to %s",
                    where,
                    was,
                    schema.SCHEMA_VERSION,
                )

    @property
    def path(self) -> Path:
        """The SQLite file; a PostgreSQL store has none."""
        if is_dsn(self.location):
            raise StoreError(f"the store at {self.where} is PostgreSQL, not a file")
        return Path(self.location)

    @property
    def backend(self) -> Backend:
        return self._backend

    # -- connections -------------------------------------------------------------------

    def _db(self) -> Database:
        held: _ThreadConnection | None = getattr(self._local, "held", None)
        db = held.db if held is not None else None
        if db is None or not self._backend.usable(db):
            db = self._backend.connect()
            held = _ThreadConnection(db)
            # Closed when the thread's locals go with the thread: a measurement's pool of
            # short-lived threads would otherwise leave one open connection each.
            weakref.finalize(held, self._backend.close, db)
            self._local.held = held
            with self._connections_lock:
                self._connections.add(db)
        return db

    def close(self) -> None:
        """Close every thread's connection (a thread that uses the store again opens one)."""
        with self._connections_lock:
            opened, self._connections = list(self._connections), weakref.WeakSet()
        for db in opened:
            self._backend.close(db)
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN ... COMMIT with the store's writer lock taken up front (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: the store's advisory lock). A caller waits at most the busy
        timeout in all, for this process's threads and others' locks together: waiting
        threads must not queue up one busy timeout each."""
        db = self._db()
        deadline = time.monotonic() + self._busy_timeout_s
        if not self._writer.acquire(timeout=self._busy_timeout_s):
            raise StoreError(f"the store at {self.where} is locked or unwritable: busy")
        try:
            try:
                self._backend.begin(db, max(deadline - time.monotonic(), 0.0))
            except StoreError:
                if self._backend.usable(db):
                    raise
                # The server ended this thread's session (a restart, pg_terminate_backend):
                # nothing was begun, so once more on a new one.
                db = self._db()
                self._backend.begin(db, max(deadline - time.monotonic(), 0.0))
            try:
                yield db
            except BaseException:
                self._backend.rollback(db)
                raise
            else:
                self._backend.commit(db)
        finally:
            self._writer.release()

    def select(
        self,
        table: str,
        where: str | None = None,
        params: Sequence[object] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of `table` as dicts, in one statement. (sqlite_utils' `rows_where` first
        asks for the table list, doubling the statements of every read a command makes.)
        `table`, `where` and `order_by` are the code's own text; values go in `params`."""
        sql = f"SELECT * FROM {quoted(table)}"  # noqa: S608 - names from code, values bound
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cursor = self._db().conn.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def read(self) -> Database:
        return self._db()

    # -- seen requests -----------------------------------------------------------------

    # Slack deliveries are seen as `trigger:<trigger_id>`; a retry of one comes within
    # minutes, so jobs.prune_events forgets them after a day. The other keys (a daily
    # analysis posted) are kept: forgetting one would post it again.
    DELIVERY_KEY_PREFIX = "trigger:"

    def first_time(self, key: str, now: datetime) -> bool:
        """True once per key: Slack retries and double clicks see False."""
        # Every request from Slack writes this before it is answered. Without the fsync
        # (WAL, synchronous=NORMAL) it survives a crash of the bot, only not a power cut,
        # which at worst lets one retry of a request in again.
        with self._backend.relaxed_durability(self._db()), self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO seen_requests (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                [key, isoformat(now)],
            )
            return bool(cursor.rowcount == 1)

    def forget_seen(self, prefix: str, before: datetime) -> int:
        """Forget the keys starting with `prefix` first seen before `before`; how many."""
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM seen_requests WHERE substr(key, 1, ?) = ? AND at < ?",
                [len(prefix), prefix, isoformat(before)],
            )
            return int(cursor.rowcount)

    # -- environment state -------------------------------------------------------------

    def env_state(self, env: str) -> EnvState:
        rows = list(self.select("env_state", "env = ?", [env]))
        if not rows:
            return EnvState(env=env, phase="not started", stagger_enabled=None, since=None)
        return env_state_from_row(rows[0])

    def set_env_state(self, state: EnvState) -> None:
        with self.transaction() as db:
            db.table("env_state").upsert(env_state_row(state), pk="env")

    # -- approval requests -------------------------------------------------------------

    def add_request(self, request: ApprovalRequest) -> None:
        with self.transaction() as db:
            db.table("approvals").insert(_request_row(request))

    def request(self, request_id: str) -> ApprovalRequest | None:
        rows = list(self.select("approvals", "id = ?", [request_id.upper()]))
        return request_from_row(rows[0]) if rows else None

    def open_requests(self, env: str | None = None) -> list[ApprovalRequest]:
        where = "status IN ('pending', 'executing', 'soaking')" + (" AND env = ?" if env else "")
        rows = self.select("approvals", where, [env] if env else [], order_by="created_at")
        return [request_from_row(row) for row in rows]

    def set_message(self, request_id: str, channel: str, message_ts: str) -> None:
        with self.transaction() as db:
            db.table("approvals").update(request_id, {"channel": channel, "message_ts": message_ts})

    def record_approval(self, request: ApprovalRequest, approved_by: tuple[str, ...]) -> bool:
        """Add approvers to a still-pending request; False if someone else changed it first."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET approved_by = ? WHERE id = ? AND status = 'pending' "
                "AND approved_by = ?",
                [json.dumps(list(approved_by)), request.id, json.dumps(list(request.approved_by))],
            )
            return cursor.rowcount == 1

    def pin_plan(self, request_id: str, plan: Plan) -> bool:
        """Pin a plan on a pending request made before plans were kept; False if it has
        one already or is no longer pending."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET plan = ? WHERE id = ? AND status = 'pending' "
                "AND plan IS NULL",
                [plan.to_json(), request_id],
            )
            return cursor.rowcount == 1

    def repin_pending(self, request: ApprovalRequest) -> bool:
        """Store a still-pending request's new arguments, plan and approvals required (a
        break-glass rollback taking it over: none); False if it left PENDING."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET args = ?, plan = ?, required = ? "
                "WHERE id = ? AND status = 'pending'",
                [
                    json.dumps(request.args, sort_keys=True),
                    request.plan.to_json() if request.plan else None,
                    request.required,
                    request.id,
                ],
            )
            return cursor.rowcount == 1

    def transition(
        self,
        request_id: str,
        from_statuses: tuple[Status, ...],
        to_status: Status,
        *,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
        outcome: str | None = None,
    ) -> bool:
        """Move a request between statuses atomically; False if it was not in `from_statuses`.
        Into and out of EXECUTING only through `bot.store.executions`, under its lease."""
        if to_status is Status.EXECUTING or Status.EXECUTING in from_statuses:
            raise ValueError("executions are claimed and finished through Executions")
        assignments = ["status = ?"]
        values: list[Any] = [to_status.value]
        if decided_by is not None:
            assignments.append("decided_by = ?")
            values.append(decided_by)
        if decided_at is not None:
            assignments.append("decided_at = ?")
            values.append(isoformat(decided_at))
        if outcome is not None:
            assignments.append("outcome = ?")
            values.append(outcome)
        placeholders = ", ".join("?" for _ in from_statuses)
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE approvals SET {', '.join(assignments)} "  # noqa: S608 - fixed columns
                f"WHERE id = ? AND status IN ({placeholders})",
                [*values, request_id, *(status.value for status in from_statuses)],
            )
            return cursor.rowcount == 1

    def expired_pending(self, now: datetime) -> list[ApprovalRequest]:
        rows = self.select(
            "approvals",
            "status = 'pending' AND expires_at <= ?",
            [isoformat(now)],
            order_by="expires_at",
        )
        return [request_from_row(row) for row in rows]

    def requests_in(self, status: Status) -> list[ApprovalRequest]:
        rows = self.select("approvals", "status = ?", [status.value])
        return [request_from_row(row) for row in rows]


def env_state_from_row(row: dict[str, Any]) -> EnvState:
    enabled = row["stagger_enabled"]
    return EnvState(
        env=row["env"],
        phase=row["phase"],
        stagger_enabled=None if enabled is None else bool(enabled),
        since=parse_iso(row["since"]) if row["since"] else None,
        disabled_jobs=tuple(json.loads(row["disabled_jobs"] or "[]")),
        note=row["note"] or "",
    )


def _request_row(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "action": request.action,
        "env": request.env,
        "args": json.dumps(request.args, sort_keys=True),
        "requester": request.requester,
        "reason": request.reason,
        "created_at": isoformat(request.created_at),
        "expires_at": isoformat(request.expires_at),
        "required": request.required,
        "status": request.status.value,
        "approved_by": json.dumps(list(request.approved_by)),
        "decided_by": request.decided_by,
        "decided_at": isoformat(request.decided_at) if request.decided_at else None,
        "channel": request.channel,
        "message_ts": request.message_ts,
        "outcome": request.outcome,
        "plan": request.plan.to_json() if request.plan else None,
    }


def env_state_row(state: EnvState) -> dict[str, Any]:
    return {
        "env": state.env,
        "phase": state.phase,
        "stagger_enabled": None if state.stagger_enabled is None else int(state.stagger_enabled),
        "since": isoformat(state.since) if state.since else None,
        "disabled_jobs": json.dumps(list(state.disabled_jobs)),
        "note": state.note,
    }


def request_from_row(row: dict[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row["id"],
        action=row["action"],
        env=row["env"],
        args=json.loads(row["args"]),
        requester=row["requester"],
        reason=row["reason"],
        created_at=parse_iso(row["created_at"]),
        expires_at=parse_iso(row["expires_at"]),
        required=row["required"],
        status=Status(row["status"]),
        approved_by=tuple(json.loads(row["approved_by"])),
        decided_by=row["decided_by"],
        decided_at=parse_iso(row["decided_at"]) if row["decided_at"] else None,
        channel=row["channel"],
        message_ts=row["message_ts"],
        outcome=row["outcome"] or "",
        plan=Plan.from_json(row["plan"]) if row.get("plan") else None,
    )
