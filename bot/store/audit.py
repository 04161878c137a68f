"""The audit trail: an append-only, hash-chained record of everything anyone or the bot did.

Each row carries the hash of the row before it and its own; `verify` walks the chain
in id order (streaming, bounded memory) and names the first row that was edited,
inserted or deleted. The newest id and hash are also kept in `meta`, so deleting rows
from the end is found too.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TextIO

from bot.core.clock import isoformat
from bot.core.redaction import redact
from bot.store.store import Store

Source = Literal["slack", "cli", "scheduler", "bot"]
FIELDS = ("id", "at", "actor", "source", "action", "env", "args", "outcome", "detail")
_GENESIS = "0" * 64


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

    @property
    def ok(self) -> bool:
        return self.problem is None


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        [prev_hash, *(row[name] for name in FIELDS)], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditTrail:
    def __init__(self, store: Store, secrets: tuple[str, ...] = ()) -> None:
        self._store = store
        self._secrets = secrets

    def record(self, entry: AuditEntry, now: datetime) -> int:
        args = json.dumps(dict(entry.args or {}), sort_keys=True, ensure_ascii=False, default=str)
        with self._store.transaction() as db:
            head = self._head(db)
            row: dict[str, Any] = {
                "id": head[0] + 1,
                "at": isoformat(now),
                "actor": entry.actor,
                "source": entry.source,
                "action": entry.action,
                "env": entry.env,
                "args": redact(args, self._secrets),
                "outcome": entry.outcome,
                "detail": redact(entry.detail, self._secrets)[:4000],
            }
            row["prev_hash"] = head[1]
            row["hash"] = row_hash(head[1], row)
            db.table("audit").insert(row)
            db.table("meta").upsert(
                {"key": "audit_head", "value": f"{row['id']}:{row['hash']}"}, pk="key"
            )
            return int(row["id"])

    @staticmethod
    def _head(db: Any) -> tuple[int, str]:
        rows = list(db.table("meta").rows_where("key = 'audit_head'"))
        if not rows:
            return 0, _GENESIS
        last_id, last_hash = rows[0]["value"].split(":", 1)
        return int(last_id), last_hash

    def latest(self, env: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        db = self._store.read()
        where = "env = ?" if env else None
        rows = db.table("audit").rows_where(
            where, [env] if env else [], order_by="id desc", limit=limit
        )
        return list(rows)

    def rows(self) -> Iterator[dict[str, Any]]:
        cursor = self._store.read().execute(
            f"SELECT {', '.join(FIELDS)}, prev_hash, hash FROM audit ORDER BY id"  # noqa: S608
        )
        names = [column[0] for column in cursor.description]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    def verify(self) -> VerifyResult:
        expected_prev = _GENESIS
        expected_id = 1
        checked = 0
        for row in self.rows():
            if row["prev_hash"] != expected_prev or row["id"] != expected_id:
                what = "deleted" if row["id"] > expected_id else "inserted or edited"
                return VerifyResult(
                    checked,
                    f"row {row['id']}: the chain breaks before it (a row was {what} there)",
                    row["id"],
                )
            if row_hash(row["prev_hash"], row) != row["hash"]:
                return VerifyResult(checked, f"row {row['id']}: its content was edited", row["id"])
            expected_prev = row["hash"]
            expected_id += 1
            checked += 1
        head_id, head_hash = self._head(self._store.read())
        if (head_id, head_hash) != (expected_id - 1, expected_prev):
            return VerifyResult(
                checked,
                f"rows after {expected_id - 1} are missing (the trail ended at row {head_id})",
                expected_id,
            )
        return VerifyResult(checked)

    def export(self, out: TextIO, fmt: Literal["csv", "jsonl"]) -> int:
        count = 0
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=[*FIELDS, "prev_hash", "hash"])
            writer.writeheader()
            for row in self.rows():
                writer.writerow(row)
                count += 1
        else:
            for row in self.rows():
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        return count
