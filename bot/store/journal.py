"""The emergency journal: the audit entries of a rollback run with no store, kept in a
local JSON-lines file until `stagger-bot audit import` adds them to the trail.

One entry per line, appended and fsynced one at a time (a crash leaves every entry
written before it), never truncated. The entries are chained as the trail's rows are:
each line's hash covers the line before it (the first covers 64 zeros), an HMAC under
STAGGER_AUDIT_KEY where the key was set, plain SHA-256 where it was not. So an edited,
inserted or removed line, or one cut short, is found at import; a plain journal only
proves it was not changed by accident (anyone could re-hash it).

A journal is signed throughout or not at all: the writer refuses to add plain lines to a
signed journal (or signed ones to a plain one), and the import refuses a journal that
mixes them. prev_hash is in the file, so anyone could append lines chained with plain
SHA-256 after the signed ones.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.audit_key import KEY_VARIABLE, OLD_KEYS_VARIABLE, AuditKey, AuditKeys
from bot.core.clock import isoformat_ms
from bot.core.errors import StaggerError
from bot.core.redaction import redact
from bot.store.audit import KEYED, AuditEntry, chain_of, keyed_hash, row_hash

GENESIS = "0" * 64
_TEXT_FIELDS = ("id", "at", "actor", "source", "action", "outcome", "detail")


class JournalError(StaggerError):
    """The journal can't be written or read; the message names the file and what to do."""


class JournalBroken(StaggerError):
    """The journal's chain is broken: `line` is the first line that is not as written."""

    def __init__(self, path: Path, line: int, why: str) -> None:
        super().__init__(f"{path} line {line}: {why}")
        self.line = line


@dataclass(frozen=True)
class JournalEntry:
    """One line of the journal, as written."""

    line: int
    id: str
    at: str
    actor: str
    source: str
    action: str
    env: str | None
    args: Mapping[str, Any]
    outcome: str
    detail: str
    chain: str | None

    @property
    def signed(self) -> bool:
        return self.chain is not None


def _hashed_row(line: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a line's hash covers, as the trail's row hash reads them."""
    row = {name: line[name] for name in (*_TEXT_FIELDS, "env", "chain")}
    row["args"] = json.dumps(line["args"], sort_keys=True, ensure_ascii=False)
    return row


def _hash(key: AuditKey | None, prev_hash: str, line: Mapping[str, Any]) -> str:
    row = _hashed_row(line)
    return row_hash(prev_hash, row) if key is None else keyed_hash(key, prev_hash, row)


def _redacted(value: Any, secrets: tuple[str, ...]) -> Any:
    """Each text in `value` redacted on its own: the JSON around it stays JSON."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {str(name): _redacted(item, secrets) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, secrets) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value), secrets)


class JournalWriter:
    """Appends entries to one journal file, holding an exclusive lock on it meanwhile:
    two runs writing one journal at once would fork its chain."""

    def __init__(self, path: Path, keys: AuditKeys | None, secrets: tuple[str, ...]) -> None:
        self.path = path
        self._key = keys.current if keys else None
        self._secrets = secrets
        self._lock = threading.Lock()
        self.written = 0
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise JournalError(
                f"cannot write the journal {path}: {error.strerror}; name another with --journal"
            ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise JournalError(
                f"another emergency-rollback is writing the journal {path}; wait for it, "
                "or name another with --journal"
            ) from None
        try:
            self._prev_hash, signed = _last_line(path)
            if signed is not None and signed != (self._key is not None):
                raise JournalError(_mixed_refusal(path, signed))
        except JournalError:
            self.close()
            raise

    def append(self, entry: AuditEntry, now: datetime) -> str:
        """Write `entry` and fsync it; its id. OSError if the disk refuses."""
        with self._lock:
            line: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "at": isoformat_ms(now),
                "actor": redact(entry.actor, self._secrets),
                "source": entry.source,
                "action": entry.action,
                "env": entry.env,
                "args": _redacted(dict(entry.args or {}), self._secrets),
                "outcome": entry.outcome,
                "detail": redact(entry.detail, self._secrets)[:4000],
                "chain": chain_of(self._key) if self._key else None,
                "prev_hash": self._prev_hash,
            }
            line["hash"] = _hash(self._key, self._prev_hash, line)
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(28, "the journal line was written only in part")
            os.fsync(self._fd)
            self._prev_hash = line["hash"]
            self.written += 1
            return str(line["id"])

    def close(self) -> None:
        os.close(self._fd)  # releases the lock


def _mixed_refusal(path: Path, signed: bool) -> str:
    if signed:
        return (
            f"the journal {path} is signed ({KEY_VARIABLE} was set where it was written) "
            f"and a journal is signed throughout or not at all: set {KEY_VARIABLE} here "
            "too, or name a new one with --journal"
        )
    return (
        f"the journal {path} is unsigned ({KEY_VARIABLE} was not set where it was written) "
        "and a journal is signed throughout or not at all: name a new one with --journal"
    )


def _last_line(path: Path) -> tuple[str, bool | None]:
    """The hash the next line chains onto (the last line's, or the genesis), and whether
    the last line is signed (None for an empty journal)."""
    data = path.read_bytes()
    if not data:
        return GENESIS, None
    lines = data.split(b"\n")
    if lines[-1]:
        raise JournalError(
            f"the journal {path} ends in a line cut short (line {len(lines)}); name a new "
            "one with --journal"
        )
    try:
        last = json.loads(lines[-2])
        return str(last["hash"]), last["chain"] is not None
    except (ValueError, KeyError, TypeError):
        raise JournalError(
            f"the journal {path} ends in a line that is not a journal entry (line "
            f"{len(lines) - 1}); name a new one with --journal"
        ) from None


def read_journal(path: Path, keys: AuditKeys | None) -> list[JournalEntry]:
    """Every entry, after checking the whole chain; JournalBroken names the first bad line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise JournalError(f"cannot read the journal {path}: {error.strerror}") from None
    lines = data.split(b"\n")
    if lines[-1]:
        raise JournalBroken(path, len(lines), "the line is cut short (no end of line)")
    entries: list[JournalEntry] = []
    seen: set[str] = set()
    expected_prev = GENESIS
    by_id = keys.by_id() if keys else {}
    for number, raw in enumerate(lines[:-1], start=1):
        line = _parse(path, number, raw)
        if line["prev_hash"] != expected_prev:
            raise JournalBroken(
                path, number, "the chain breaks before it (a line was removed, inserted or "
                "edited there)"
            )  # fmt: skip
        signed = line["chain"] is not None
        if entries and signed != entries[0].signed:
            raise JournalBroken(path, number, _mixed_line(signed))
        key = _key_of(path, number, line["chain"], by_id, keys)
        if not hmac.compare_digest(_hash(key, expected_prev, line), str(line["hash"])):
            raise JournalBroken(path, number, "its content was edited")
        if line["id"] in seen:
            raise JournalBroken(path, number, f"its id {line['id']} is another line's")
        seen.add(line["id"])
        expected_prev = line["hash"]
        entries.append(
            JournalEntry(
                number, line["id"], line["at"], line["actor"], line["source"], line["action"],
                line["env"], line["args"], line["outcome"], line["detail"], line["chain"],
            )
        )  # fmt: skip
    if not entries:
        raise JournalBroken(path, 1, "the journal holds no entries")
    return entries


def _mixed_line(signed: bool) -> str:
    if signed:
        return "it is signed, after unsigned lines: a journal is signed throughout or not at all"
    return (
        "it is unsigned, after signed lines (anyone can append lines chained with plain "
        "SHA-256): a journal is signed throughout or not at all"
    )


def _parse(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        line = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise JournalBroken(path, number, "not a journal entry (not JSON)") from None
    if not isinstance(line, dict):
        raise JournalBroken(path, number, "not a journal entry (not a JSON object)")
    fields_ok = (
        all(isinstance(line.get(name), str) for name in (*_TEXT_FIELDS, "prev_hash", "hash"))
        and isinstance(line.get("env"), str | None)
        and isinstance(line.get("args"), dict)
        and isinstance(line.get("chain"), str | None)
    )
    if not fields_ok:
        raise JournalBroken(path, number, "not a journal entry (a field is missing or wrong)")
    return line


def _key_of(
    path: Path,
    number: int,
    chain: str | None,
    by_id: Mapping[str, AuditKey],
    keys: AuditKeys | None,
) -> AuditKey | None:
    if chain is None:
        return None
    if not chain.startswith(KEYED):
        raise JournalBroken(path, number, f"an unknown chain {chain[:40]!r} (it was edited)")
    key = by_id.get(chain.removeprefix(KEYED))
    if key is None:
        held = f" (key {keys.current.id})" if keys else " (not set)"
        raise JournalBroken(
            path,
            number,
            f"it is signed with audit key {chain.removeprefix(KEYED)}, which is neither "
            f"{KEY_VARIABLE}{held} nor one of {OLD_KEYS_VARIABLE}",
        )
    return key
