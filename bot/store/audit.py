"""The audit trail: an append-only, hash-chained record of everything anyone or the bot did.

Each row carries the hash of the row before it and its own. Since schema 4 that hash is
an HMAC-SHA256 under `STAGGER_AUDIT_KEY` (the row's `chain` says which key: someone who
can write the store but lacks the key cannot re-hash an edit). Rows from before are
plain SHA-256 (`chain` NULL); they verify as before, and the first keyed row, which
chains onto them, pins them. A new key starts with a marker row signed by it
(`audit.key_rotated`); the first keyed row after plain ones is `audit.keyed_chain_started`.
A retired key signs nothing after its successor's marker: a process still on it refuses
to write, and verify names such a row (an old key kept for verifying is no way in).

`verify` walks the chain in id order (streaming, bounded memory, one read snapshot) and
names the first row that was edited, inserted or deleted. The newest id and hash are
also kept in `meta`, so a naive deletion from the end is found too; a careful one (the
head rewound, the store restored from a backup, the trail wiped or re-hashed whole) is
found only against a head witnessed outside the store: the one the bot posts to Slack,
given to `verify(head=...)`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TextIO

from bot.core.audit_head import AuditHead
from bot.core.audit_key import KEY_VARIABLE, OLD_KEYS_VARIABLE, AuditKey, AuditKeys
from bot.core.clock import isoformat
from bot.core.errors import ConfigError
from bot.core.redaction import redact
from bot.store.store import Store

# "emergency": made outside the bot (`stagger-bot emergency-rollback`), imported from its
# journal.
Source = Literal["slack", "cli", "scheduler", "bot", "emergency"]
FIELDS = ("id", "at", "actor", "source", "action", "env", "args", "outcome", "detail")
_GENESIS = "0" * 64
KEYED = "hmac-sha256:"
CHAIN_STARTED = "audit.keyed_chain_started"
KEY_ROTATED = "audit.key_rotated"


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    source: Source
    action: str
    env: str | None = None
    args: Mapping[str, Any] | None = None
    outcome: str = "ok"
    detail: str = ""


@dataclass(frozen=True)
class VerifyResult:
    rows_checked: int
    problem: str | None = None
    first_bad_id: int | None = None
    plain_rows: int = 0  # of rows_checked, those from before the keyed chain
    newest: AuditHead | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """A row's hash before the keyed chain: plain SHA-256."""
    return hashlib.sha256(_canonical(prev_hash, row, ()).encode("utf-8")).hexdigest()


def keyed_hash(key: AuditKey, prev_hash: str, row: Mapping[str, Any]) -> str:
    """A keyed row's hash: HMAC-SHA256 over the same fields and the row's `chain`."""
    canonical = _canonical(prev_hash, row, (row["chain"],))
    return hmac.new(key.secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def chain_of(key: AuditKey) -> str:
    return KEYED + key.id


def _canonical(prev_hash: str, row: Mapping[str, Any], extra: tuple[Any, ...]) -> str:
    values = [prev_hash, *(row[name] for name in FIELDS), *extra]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


class AuditTrail:
    def __init__(
        self, store: Store, secrets: tuple[str, ...] = (), keys: AuditKeys | None = None
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._keys = keys

    def record(self, entry: AuditEntry, now: datetime) -> int:
        key = self._current_key()
        with self._store.transaction() as db:
            return self._append(db, key, entry, now)

    def record_once(self, entry: AuditEntry, now: datetime, once_key: str) -> int | None:
        """Record `entry` unless `once_key` was seen before (then None), in one
        transaction: an entry imported twice is in the trail once."""
        key = self._current_key()
        with self._store.transaction() as db:
            seen = db.execute(
                "INSERT INTO seen_requests (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                [once_key, isoformat(now)],
            )
            if seen.rowcount != 1:
                return None
            return self._append(db, key, entry, now)

    def record_marking(self, entry: AuditEntry, now: datetime, seen: Sequence[str]) -> int:
        """Record `entry` and remember each key of `seen` (see `Store.first_time`) in one
        transaction: what the keys say was done is in the trail with them, or neither."""
        key = self._current_key()
        with self._store.transaction() as db:
            for once_key in seen:
                db.execute(
                    "INSERT INTO seen_requests (key, at) VALUES (?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    [once_key, isoformat(now)],
                )
            return self._append(db, key, entry, now)

    def _append(self, db: Any, key: AuditKey, entry: AuditEntry, now: datetime) -> int:
        chain = chain_of(key)
        head_id, head_hash = self._head(db)
        before = self._chain_at(db, head_id)
        if head_id and before != chain:
            self._refuse_if_retired(db, key)
            marker = (
                AuditEntry(
                    "bot", "bot", CHAIN_STARTED, None, {"key": key.id}, "ok",
                    "the rows before this one are plain SHA-256; from here each is "
                    "an HMAC under STAGGER_AUDIT_KEY",
                )
                if before is None
                else AuditEntry(
                    "bot", "bot", KEY_ROTATED, None,
                    {"key": key.id, "previous_key": before.removeprefix(KEYED)}, "ok",
                    "STAGGER_AUDIT_KEY changed; verifying older rows needs the previous "
                    "key in STAGGER_AUDIT_OLD_KEYS",
                )
            )  # fmt: skip
            head_id, head_hash = self._insert(db, key, head_id, head_hash, marker, now)
        head_id, head_hash = self._insert(db, key, head_id, head_hash, entry, now)
        db.table("meta").upsert({"key": "audit_head", "value": f"{head_id}:{head_hash}"}, pk="key")
        return head_id

    def _insert(
        self, db: Any, key: AuditKey, head_id: int, head_hash: str, entry: AuditEntry, now: datetime
    ) -> tuple[int, str]:
        args = json.dumps(dict(entry.args or {}), sort_keys=True, ensure_ascii=False, default=str)
        row: dict[str, Any] = {
            "id": head_id + 1,
            "at": isoformat(now),
            "actor": entry.actor,
            "source": entry.source,
            "action": entry.action,
            "env": entry.env,
            "args": redact(args, self._secrets),
            "outcome": entry.outcome,
            "detail": redact(entry.detail, self._secrets)[:4000],
            "chain": chain_of(key),
            "prev_hash": head_hash,
        }
        row["hash"] = keyed_hash(key, head_hash, row)
        db.table("audit").insert(row)
        return int(row["id"]), str(row["hash"])

    def _current_key(self) -> AuditKey:
        if self._keys is None:
            raise ConfigError(f"{KEY_VARIABLE} is not set: the audit trail is signed with it")
        return self._keys.current

    @staticmethod
    def _head(db: Any) -> tuple[int, str]:
        rows = list(db.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchall())
        if not rows:
            return 0, _GENESIS
        last_id, last_hash = str(rows[0][0]).split(":", 1)
        return int(last_id), last_hash

    @staticmethod
    def _refuse_if_retired(db: Any, key: AuditKey) -> None:
        # The rotations are few; their args are read here, not by an engine's JSON function.
        rotations = db.execute(
            "SELECT id, args FROM audit WHERE action = ? ORDER BY id", [KEY_ROTATED]
        ).fetchall()
        retired = next((row for row in rotations if _previous_key(row[1]) == key.id), None)
        if retired is not None:
            raise ConfigError(
                f"this process's {KEY_VARIABLE} (key {key.id}) was retired at audit row "
                f"{retired[0]}: restart it with the current key (the retired one goes in "
                f"{OLD_KEYS_VARIABLE})"
            )

    @staticmethod
    def _chain_at(db: Any, row_id: int) -> str | None:
        found = db.execute("SELECT chain FROM audit WHERE id = ?", [row_id]).fetchone()
        return None if found is None else found[0]

    def head(self) -> AuditHead | None:
        """The newest entry, as the posts witness it; None while the trail is empty."""
        found = (
            self._store.read()
            .execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetchone()
        )
        return None if found is None else AuditHead(int(found[0]), str(found[1]))

    def latest(self, env: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        db = self._store.read()
        where = "env = ?" if env else None
        rows = db.table("audit").rows_where(
            where, [env] if env else [], order_by="id desc", limit=limit
        )
        return list(rows)

    def rows(self) -> Iterator[dict[str, Any]]:
        return self._rows(self._store.read())

    @staticmethod
    def _rows(db: Any) -> Iterator[dict[str, Any]]:
        cursor = db.execute(
            f"SELECT {', '.join(FIELDS)}, chain, prev_hash, hash FROM audit ORDER BY id"  # noqa: S608
        )
        names = [column[0] for column in cursor.description]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        """One read transaction: every SELECT in it sees the store as it was at the first,
        whatever the bot writes meanwhile."""
        db = self._store.read()
        if db.conn.in_transaction:
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def verify(
        self,
        head: AuditHead | Sequence[AuditHead] | None = None,
        *,
        plain_until: int = 0,
    ) -> VerifyResult:
        """The whole chain, in one snapshot; with heads (as posted), also that the trail
        still holds each of those entries intact and everything after it chains to it.
        Rows not signed with the audit key (plain SHA-256, from before it) are accepted
        only up to `plain_until`: a trail re-hashed without the key is never taken as old."""
        heads = (head,) if isinstance(head, AuditHead) else tuple(head or ())
        with self._snapshot() as db:
            walk = _Walk(self._keys, heads, plain_until, _first_keyed_marker(db))
            for row in self._rows(db):
                problem = walk.check(row)
                if problem is not None:
                    return VerifyResult(walk.checked, problem, row["id"], walk.plain, walk.newest)
            head_id, head_hash = self._head(db)
        if (head_id, head_hash) != (walk.expected_id - 1, walk.expected_prev):
            return VerifyResult(
                walk.checked,
                f"rows after {walk.expected_id - 1} are missing (the trail ended at row {head_id})",
                walk.expected_id,
                walk.plain,
                walk.newest,
            )
        missing = walk.head_missing()
        if missing is not None:
            return VerifyResult(walk.checked, missing, None, walk.plain, walk.newest)
        return VerifyResult(walk.checked, None, None, walk.plain, walk.newest)

    def export(self, out: TextIO, fmt: Literal["csv", "jsonl"]) -> int:
        count = 0
        with self._snapshot() as db:
            if fmt == "csv":
                writer = csv.DictWriter(out, fieldnames=[*FIELDS, "chain", "prev_hash", "hash"])
                writer.writeheader()
                for row in self._rows(db):
                    writer.writerow(row)
                    count += 1
            else:
                for row in self._rows(db):
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    count += 1
        return count


class _Walk:
    """The state of one walk along the chain; `check` names what is wrong with a row."""

    def __init__(
        self,
        configured: AuditKeys | None,
        heads: tuple[AuditHead, ...],
        plain_until: int,
        keyed_marker: int | None,
    ) -> None:
        self.keys = configured.by_id() if configured else {}
        self.configured = configured
        self.heads = {head.id: head for head in heads}
        self.plain_until = plain_until
        self.keyed_marker = keyed_marker
        self.expected_prev = _GENESIS
        self.expected_id = 1
        self.checked = 0
        self.plain = 0
        self.chain: str | None = None  # the chain of the last row walked
        self.retired: dict[str, int] = {}  # chain -> the row its successor began at
        self.keyed_from: int | None = None
        self.heads_seen: set[int] = set()
        self.newest: AuditHead | None = None

    def check(self, row: Mapping[str, Any]) -> str | None:
        number = row["id"]
        if row["prev_hash"] != self.expected_prev or number != self.expected_id:
            what = "deleted" if number > self.expected_id else "inserted or edited"
            return f"row {number}: the chain breaks before it (a row was {what} there)"
        problem = self._keyed(row) if row["chain"] is not None else self._plain(row)
        if problem is not None:
            return problem
        posted = self.heads.get(number)
        if posted is not None:
            if not posted.matches(number, row["hash"]):
                return (
                    f"row {number} is not the entry posted as audit head {posted}: it was "
                    "rewritten, and the trail from it on re-hashed"
                )
            self.heads_seen.add(number)
        self.expected_prev = row["hash"]
        self.expected_id += 1
        self.checked += 1
        self.chain = row["chain"]
        self.newest = AuditHead(number, row["hash"])
        return None

    def _plain(self, row: Mapping[str, Any]) -> str | None:
        number = row["id"]
        if self.keyed_from is not None:
            return (
                f"row {number}: a plain SHA-256 row after the keyed chain began at row "
                f"{self.keyed_from} (it was re-hashed without the key)"
            )
        if row_hash(row["prev_hash"], row) != row["hash"]:
            return f"row {number}: its content was edited"
        if number > self.plain_until:
            hint = (
                f" If it is from before the audit key was set (its keyed chain began at row "
                f"{self.keyed_marker}, a row you saw posted), verify with "
                f"--plain-until {self.keyed_marker - 1}."
                if self.keyed_marker is not None and number < self.keyed_marker
                else ""
            )
            return (
                f"row {number} is plain SHA-256, not signed with the audit key: anyone who "
                f"can write the store could have made it.{hint}"
            )
        self.plain += 1
        return None

    def _keyed(self, row: Mapping[str, Any]) -> str | None:
        number, chain = row["id"], str(row["chain"])
        if not chain.startswith(KEYED):
            return f"row {number}: an unknown chain {chain[:40]!r} (it was edited)"
        key_id = chain.removeprefix(KEYED)
        key = self.keys.get(key_id)
        if key is None:
            if self.configured is None:
                return f"row {number} is signed with audit key {key_id}: verifying needs it"
            return (
                f"row {number} is signed with audit key {key_id}, which is neither "
                f"{KEY_VARIABLE} (key {self.configured.current.id}) nor one of "
                f"{OLD_KEYS_VARIABLE}: give the key that wrote it in {OLD_KEYS_VARIABLE}"
            )
        if chain in self.retired:
            return (
                f"row {number} is signed with audit key {key_id}, which was retired at row "
                f"{self.retired[chain]}"
            )
        if chain != self.chain:
            wanted = CHAIN_STARTED if self.chain is None else KEY_ROTATED
            if number > 1 and row["action"] != wanted:
                return f"row {number}: the chain's key changes here without a {wanted} row"
            if self.chain is not None:
                self.retired[self.chain] = number
        if not hmac.compare_digest(keyed_hash(key, row["prev_hash"], row), row["hash"]):
            return f"row {number}: its content was edited"
        if self.keyed_from is None:
            self.keyed_from = number
        return None

    def head_missing(self) -> str | None:
        """What a posted head that was never walked past says of the trail, or None."""
        for head in self.heads.values():
            if head.id in self.heads_seen:
                continue
            if self.checked == 0:
                return (
                    f"the trail is empty, but entry {head.id} was posted as its head: "
                    "the trail was wiped"
                )
            return (
                f"the trail ends at entry {self.expected_id - 1}, but entry {head.id} was "
                f"posted as its head: entries were deleted from its end (or the store restored "
                "from an older copy)"
            )
        return None


def _previous_key(args: str | None) -> object:
    try:
        found = json.loads(args or "{}")
    except ValueError:
        return None
    return found.get("previous_key") if isinstance(found, dict) else None


def _first_keyed_marker(db: Any) -> int | None:
    row = db.execute("SELECT min(id) FROM audit WHERE action = ?", [CHAIN_STARTED]).fetchone()
    return int(row[0]) if row and row[0] is not None else None
