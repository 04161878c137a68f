"""The world a replay runs in: a copy of the recorded store in a folder of its own (so
its migrations and the replay's own bookkeeping never touch the original), a transport
that refuses every host, a poster that posts nothing, no database, and a clock set to
each moment replayed."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.core.clock import ManualClock, isoformat
from bot.core.errors import ConfigError, RemoteError, StoreError
from bot.core.host_address import HostAddress
from bot.core.ports import Poster, RemoteSession, Transport
from bot.core.replies import Block
from bot.core.spec import Spec
from bot.rollout.context import BotContext
from bot.store.audit import AuditTrail
from bot.store.store import Store

NOT_READ = "not read in a replay"


class NoHosts:
    """A transport for a replay: it never connects; each host it was asked for is kept."""

    def __init__(self) -> None:
        self.asked: list[HostAddress] = []

    def connect(self, host: HostAddress) -> contextlib.AbstractContextManager[RemoteSession]:
        self.asked.append(host)
        raise RemoteError(str(host), "a replay never connects to hosts")


class NoPosts:
    """A poster for a replay: nothing is posted; how many times it was asked is kept."""

    def __init__(self) -> None:
        self.refused = 0

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        request_id: str | None = None,
    ) -> str | None:
        self.refused += 1
        return None

    def update(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> bool:
        self.refused += 1
        return False

    def ephemeral(self, channel: str, user: str, text: str) -> bool:
        self.refused += 1
        return False

    def upload(
        self,
        channel: str,
        content: bytes,
        filename: str,
        title: str,
        *,
        thread_ts: str | None = None,
        comment: str | None = None,
    ) -> bool:
        self.refused += 1
        return False

    def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        self.refused += 1
        return False

    def flush(self) -> int:
        return 0


@dataclass
class ReplayContext(BotContext):
    """No env has a database in a replay: its KPIs are unavailable, and job durations
    come from what the store kept (`bot.rollout.samples`)."""

    def database_url(self, env: str) -> SecretStr | str:
        return NOT_READ

    def reads_databases(self) -> bool:
        return False


@contextlib.contextmanager
def store_copy(path: Path) -> Iterator[Store]:
    """A copy of the store at `path`, removed afterwards. A store with a write-ahead log
    beside it may be in use: it is copied through SQLite's backup API from a read-only
    connection, a consistent snapshot. Without one nobody has it open, and the file is
    copied as it is, so not even a lock file is made beside it."""
    if not path.is_file():
        raise ConfigError(f"no store at {path} (name one with --store FILE or set STAGGER_DB)")
    with tempfile.TemporaryDirectory(prefix="stagger-replay-") as folder:
        copy = Path(folder) / "stagger.db"
        try:
            if Path(f"{path}-wal").exists():
                _backup(path, copy)
            else:
                shutil.copyfile(path, copy)
            store = Store(copy)
        except StoreError as error:  # it names the copy: name the store asked for
            raise ConfigError(str(error).replace(str(copy), str(path))) from None
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(f"cannot read the store at {path}: {error}") from None
        try:
            yield store
        finally:
            store.read().conn.close()


def _backup(path: Path, copy: Path) -> None:
    source = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def replay_context(
    spec: Spec, store: Store, clock: ManualClock, transport: Transport, poster: Poster
) -> ReplayContext:
    return ReplayContext(
        spec=spec, store=store, audit=AuditTrail(store), transport=transport,
        poster=poster, clock=clock,
    )  # fmt: skip


def as_recorded(spec: Spec, store: Store) -> tuple[Spec, dict[str, list[str]]]:
    """The other spec, read against the store's events: each env's hosts are those the
    store holds events of (the events are keyed by host), and an env whose store kept no
    database durations is judged on its log's, as the bot that recorded it was. What was
    changed is said in the notes, by env."""
    environments = dict(spec.environments)
    notes: dict[str, list[str]] = {}
    for name, environment in spec.environments.items():
        said = notes.setdefault(name, [])
        hosts = recorded_hosts(store, name)
        if hosts and hosts != environment.hosts:
            environment = environment.model_copy(update={"hosts": hosts})
            said.append(f"{name}: the hosts the store recorded, {', '.join(hosts)}")
        if environment.database_url_env is not None and not _kept_durations(store, name):
            environment = environment.model_copy(update={"database_url_env": None})
            said.append(
                f"{name}: job durations from the log's completed lines (the store kept "
                "no database durations of it)"
            )
        environments[name] = environment
    return spec.model_copy(update={"environments": environments}), notes


def recorded_hosts(store: Store, env: str) -> list[str]:
    """The hosts of `env` the store has scanned or holds events of."""
    rows = store.read().execute(
        # Skipping along the (env, host, at) index, one seek per host, as EventLog does.
        "WITH RECURSIVE hosts (host) AS ("
        " SELECT MIN(host) FROM log_events WHERE env = ?1"
        " UNION ALL SELECT (SELECT MIN(host) FROM log_events"
        " WHERE env = ?1 AND host > hosts.host) FROM hosts WHERE hosts.host IS NOT NULL) "
        "SELECT host FROM hosts WHERE host IS NOT NULL"
        " UNION SELECT host FROM log_cursors WHERE env = ?1 ORDER BY host",
        [env],
    )
    return [row[0] for row in rows]


def _kept_durations(store: Store, env: str) -> bool:
    rows = store.read().execute("SELECT 1 FROM run_durations WHERE env = ? LIMIT 1", [env])
    return rows.fetchone() is not None


def set_stagger(store: Store, env: str, enabled: bool) -> None:
    """The env's flag as the phase replayed had it (the copy holds the rollout's last):
    where the jobs are expected to start, for the offset KPIs."""
    store.set_env_state(replace(store.env_state(env), stagger_enabled=enabled))


class BaselinesAsOf:
    """The copy's baselines as they were at a moment: one captured later is set aside, so
    a phase is judged against the baseline the bot had then."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows = store.select("baselines", order_by="id")
        self._shown = [row["id"] for row in self._rows]

    def show(self, moment: datetime) -> None:
        wanted = [row for row in self._rows if row["captured_at"] <= isoformat(moment)]
        if [row["id"] for row in wanted] == self._shown:
            return
        with self._store.transaction() as db:
            db.execute("DELETE FROM baselines")
            if wanted:
                db.table("baselines").insert_all(wanted)
        self._shown = [row["id"] for row in wanted]
