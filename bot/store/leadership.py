"""Scheduler leadership: of all the processes (replicas) serving one store, only the
leader runs the scheduled jobs.

On SQLite the leader holds the store's lease (`bot.store.lease`). On PostgreSQL it holds a
session-level advisory lock on a connection of its own: when the leader dies its
connection closes, the server releases the lock, and the next replica to try takes it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime
from typing import Any, Protocol

import psycopg

from bot.core.errors import StoreError
from bot.store.backend_postgres import libpq_options
from bot.store.lease import Lease
from bot.store.store import Store

logger = logging.getLogger(__name__)

_LOCK_NAME = "stagger-bot.scheduler"
# What names a contender in pg_stat_activity, and so names the leader.
_APPLICATION_PREFIX = "stagger-bot scheduler "


class Leadership(Protocol):
    def hold(self, now: datetime) -> bool:
        """Take or keep the leadership; False while another process has it."""
        ...

    def current_holder(self, now: datetime) -> str | None:
        """The leader's name (host:pid), None when no process leads."""
        ...


class ObservedLeadership:
    """A process's leadership as the scheduler uses it: what the last `hold` found (for
    /healthz), and a log line whenever this process becomes the leader or stops being it."""

    def __init__(self, leadership: Leadership, name: str) -> None:
        self.leadership = leadership
        self.name = name
        self.is_leader: bool | None = None  # None until the first job asks
        self._mutex = threading.Lock()  # jobs run in several threads: one line per change

    def hold(self, now: datetime) -> bool:
        held = self.leadership.hold(now)
        with self._mutex:
            self._note(held)
        return held

    def _note(self, held: bool) -> None:
        if held != self.is_leader:
            if held:
                logger.info("%s is now the scheduler leader: it runs the scheduled jobs", self.name)
            elif self.is_leader:
                logger.warning("%s is no longer the scheduler leader", self.name)
            else:
                logger.info("%s follows: another process leads the scheduler", self.name)
            self.is_leader = held

    def current_holder(self, now: datetime) -> str | None:
        return self.leadership.current_holder(now)


def leadership_for(store: Store, name: str, dsn: str | None) -> Leadership:
    """The advisory lock where the store is PostgreSQL (`dsn`), else the SQLite lease."""
    return AdvisoryLockLeadership(dsn, name) if dsn else Lease(store, name)


def lock_key(database: str, schema: str) -> int:
    """A stable signed 64-bit key for one store: two bots on different databases or
    schemas of one server never share a leader."""
    digest = hashlib.sha256(f"{_LOCK_NAME}|{database}|{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLockLeadership:
    """`pg_try_advisory_lock` on a dedicated autocommit connection.

    Each `hold` first checks the connection is alive; a leader whose connection dropped
    (the server restarted, the session was terminated, the network cut) answers False and
    does not run that job, as another replica may already lead; the next `hold`
    reconnects and tries the lock again."""

    def __init__(self, dsn: str, name: str, *, connect_timeout_s: int = 5) -> None:
        self.name = name
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self._mutex = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None
        self._key: int | None = None
        self._held = False
        self._failing = False

    def hold(self, now: datetime) -> bool:
        with self._mutex:
            try:
                connection = self._connection or self._connect()
                if self._held:
                    connection.execute("SELECT 1")
                    return True
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", [self._key]).fetchone()
                self._held = bool(row and row[0])
                self._failing = False
                return self._held
            except psycopg.Error as error:
                # Once per outage, not at every try while the server is away.
                logger.log(
                    logging.DEBUG if self._failing else logging.WARNING,
                    "the scheduler's lock connection failed (%s): not leading until it is back",
                    describe_error(error, self._dsn),
                )
                self._failing = True
                self._drop()
                return False

    def current_holder(self, now: datetime) -> str | None:
        with self._mutex:
            try:
                connection = self._connection or self._connect()
                return _holder(connection, self._key_of(connection))
            except psycopg.Error:
                self._drop()
                return None

    def close(self) -> None:
        """Let go of the lock, then of the connection: a replica that stops hands the
        leadership over at once, not when the server gets round to ending its session."""
        with self._mutex:
            if self._held and self._connection is not None and self._key is not None:
                try:
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", [self._key])
                except psycopg.Error:
                    logger.debug("releasing the scheduler's lock failed", exc_info=True)
            self._drop()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = connect(
            self._dsn, self._connect_timeout_s, (_APPLICATION_PREFIX + self.name)[:63]
        )
        # The server notices a replica that vanished without closing its connection (its
        # machine lost power or network) in under a minute, not the OS's two hours, and
        # never ends this idle session itself.
        for setting in (
            "SET tcp_keepalives_idle = 10",
            "SET tcp_keepalives_interval = 5",
            "SET tcp_keepalives_count = 3",
            "SET idle_session_timeout = 0",
        ):
            connection.execute(setting)
        self._key = self._key_of(connection)
        self._connection = connection
        return connection

    def _key_of(self, connection: psycopg.Connection[Any]) -> int:
        if self._key is None:
            row = connection.execute("SELECT current_database(), current_schema()").fetchone()
            assert row is not None
            self._key = lock_key(str(row[0]), str(row[1]))
        return self._key

    def _drop(self) -> None:
        self._held = False
        if self._connection is not None:
            try:
                self._connection.close()
            except psycopg.Error:
                logger.debug("closing a broken lock connection failed", exc_info=True)
            self._connection = None


def connect(dsn: str, connect_timeout_s: int, application_name: str) -> psycopg.Connection[Any]:
    """A connection to the store's database and schema (the DSN read as the store reads
    it: `?schema=` is the search path, not a libpq parameter)."""
    options, _schema = libpq_options(dsn)
    options.pop("connect_timeout", None)
    options.pop("application_name", None)
    return psycopg.connect(
        **options,
        autocommit=True,
        connect_timeout=connect_timeout_s,
        # A leader cut off from the server finds its connection dead (about 11 s) before
        # the server drops its session and lock (about 25 s, set in `_connect`), so two
        # replicas never both think they lead.
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
        tcp_user_timeout=10_000,
        application_name=application_name,
    )


def _holder(connection: psycopg.Connection[Any], key: int) -> str | None:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = connection.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid::bigint = %s AND l.objid::bigint = %s",
        [unsigned >> 32, unsigned & 0xFFFFFFFF],
    ).fetchone()
    if row is None:
        return None
    return str(row[0]).removeprefix(_APPLICATION_PREFIX) or "a process of another name"


def describe_error(error: Exception, dsn: str) -> str:
    """The first line of a database error, without the DSN's password."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    try:
        password = libpq_options(dsn)[0].get("password")
    except (psycopg.Error, StoreError):
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text
