"""The audit trail: an HMAC chain under STAGGER_AUDIT_KEY that names the first row edited,
inserted or deleted, a plain SHA-256 trail from before that still verifies and is pinned
by the keyed rows after it, and key rotation with the old key kept to verify."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.audit_key import AuditKey, AuditKeys, parse_key, parse_keys
from bot.core.errors import ConfigError
from bot.store.audit import AuditEntry, AuditTrail, chain_of, keyed_hash, row_hash
from bot.store.store import Store
from tests.support.spec_data import AUDIT_KEY
from tests.support.store_backends import StoreFactory

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
KEYS = parse_keys(AUDIT_KEY, None)
NEW_KEY = "c4" * 32
# Made by `stagger-bot rehearse --keep DIR` at commit 93ffdc3 (plain SHA-256, 55 rows).
STORE_93FFDC3 = Path(__file__).parent / "data" / "store-93ffdc3.db"


def trail_with_rows(at: Path | Store, count: int = 5, keys: AuditKeys = KEYS) -> AuditTrail:
    store = at if isinstance(at, Store) else Store(at)
    trail = AuditTrail(store, secrets=("xoxb-secret-token-1234",), keys=keys)
    for index in range(count):
        trail.record(
            AuditEntry("U0OPS1", "slack", "rollback.requested", "prod", {"n": index}, "pending"),
            NOW + timedelta(seconds=index),
        )
    return trail


def tamper(path: Path, sql: str) -> None:
    connection = sqlite3.connect(path)
    connection.execute(sql)
    connection.commit()
    connection.close()


def test_an_untouched_trail_verifies(store_factory: StoreFactory) -> None:
    result = trail_with_rows(store_factory()).verify()
    assert result.ok and result.rows_checked == 5


def test_an_edited_row_is_named(store_factory: StoreFactory) -> None:
    trail = trail_with_rows(store_factory())
    store_factory.write("UPDATE audit SET outcome = 'ok' WHERE id = 3")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3 and "edited" in (result.problem or "")


def test_a_deleted_row_is_found_where_the_chain_breaks(store_factory: StoreFactory) -> None:
    trail = trail_with_rows(store_factory())
    store_factory.write("DELETE FROM audit WHERE id = 2")
    result = trail.verify()
    assert result.first_bad_id == 3 and "deleted" in (result.problem or "")


def test_deleting_the_newest_rows_is_found(store_factory: StoreFactory) -> None:
    trail = trail_with_rows(store_factory())
    store_factory.write("DELETE FROM audit WHERE id >= 4")
    result = trail.verify()
    assert not result.ok and "rows after 3 are missing" in (result.problem or "")


def test_an_inserted_row_is_found(store_factory: StoreFactory) -> None:
    trail = trail_with_rows(store_factory())
    store_factory.write(
        "UPDATE audit SET id = id + 100 WHERE id >= 3",
    )
    store_factory.write(
        "INSERT INTO audit (id, at, actor, source, action, env, args, outcome, detail, prev_hash, "
        "hash) SELECT 3, at, 'U0EVIL', source, action, env, args, outcome, detail, hash, hash "
        "FROM audit WHERE id = 2",
    )
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3


def test_secrets_never_reach_the_trail(store_factory: StoreFactory) -> None:
    trail = AuditTrail(store_factory(), secrets=("xoxb-secret-token-1234",), keys=KEYS)
    trail.record(
        AuditEntry(
            "bot",
            "bot",
            "ssh",
            "prod",
            {"dsn": "postgres://app:hunter2@db.example.com/goalgpt"},
            "failed",
            "token xoxb-secret-token-1234 rejected; password=hunter2",
        ),
        NOW,
    )
    exported = io.StringIO()
    trail.export(exported, "jsonl")
    text = exported.getvalue()
    assert "hunter2" not in text and "xoxb-secret-token-1234" not in text
    assert "postgres://app:[redacted]@db.example.com" in text


def test_export_writes_every_row_as_csv_or_jsonl(store_factory: StoreFactory) -> None:
    trail = trail_with_rows(store_factory(), count=3)
    jsonl = io.StringIO()
    assert trail.export(jsonl, "jsonl") == 3
    rows = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    csv_out = io.StringIO()
    assert trail.export(csv_out, "csv") == 3
    assert csv_out.getvalue().splitlines()[0].startswith("id,at,actor,source,action,env")


def test_latest_is_newest_first_and_filtered_by_env(store_factory: StoreFactory) -> None:
    trail = trail_with_rows(store_factory(), count=3)
    trail.record(AuditEntry("U0OPS1", "cli", "status", "staging"), NOW)
    assert [row["id"] for row in trail.latest("prod", 2)] == [3, 2]
    assert [row["env"] for row in trail.latest(None, 1)] == ["staging"]


def rehash_plainly(path: Path, edit: str, upto: int) -> None:
    """What someone with the store but not the key can do: edit, then re-hash the rows up
    to `upto` as the plain SHA-256 chain (all the old verify checked)."""
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    connection.execute(edit)
    prev = "0" * 64
    for row in list(connection.execute("SELECT * FROM audit WHERE id <= ? ORDER BY id", (upto,))):
        digest = row_hash(prev, dict(row))
        connection.execute(
            "UPDATE audit SET prev_hash = ?, hash = ?, chain = NULL WHERE id = ?",
            (prev, digest, row["id"]),
        )
        prev = digest
    connection.commit()
    connection.close()


def test_the_last_row_edited_and_re_hashed_without_the_key_is_named(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db")
    connection = sqlite3.connect(tmp_path / "s.db")
    connection.row_factory = sqlite3.Row
    row = dict(connection.execute("SELECT * FROM audit WHERE id = 5").fetchone())
    row["actor"] = "U0LEAD1"
    forged = row_hash(row["prev_hash"], row)  # the chain column kept, the hash recomputed
    connection.execute("UPDATE audit SET actor = 'U0LEAD1', hash = ? WHERE id = 5", (forged,))
    connection.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"5:{forged}",))
    connection.commit()
    connection.close()
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 5 and "edited" in (result.problem or "")


def test_a_trail_from_before_the_key_verifies_and_the_keyed_rows_pin_it(tmp_path: Path) -> None:
    path = tmp_path / "stagger.db"
    shutil.copyfile(STORE_93FFDC3, path)
    trail = AuditTrail(Store(path), keys=KEYS)

    before = trail.verify(plain_until=55)
    assert before.ok and (before.rows_checked, before.plain_rows) == (55, 55)
    unsigned = trail.verify()
    assert not unsigned.ok and unsigned.first_bad_id == 1  # unsigned rows only when named

    row = trail.record(AuditEntry("U0OPS1", "cli", "command.status", "prod"), NOW)
    assert row == 57  # 56 marks where the keyed chain begins
    marker, entry = trail.latest(limit=2)[::-1]
    assert marker["action"] == "audit.keyed_chain_started" and marker["chain"]
    assert entry["chain"] == marker["chain"] and entry["prev_hash"] == marker["hash"]
    after = AuditTrail(Store(path), keys=KEYS).verify(plain_until=55)
    assert after.ok and (after.rows_checked, after.plain_rows) == (57, 55)
    assert after.newest is not None and after.newest.id == 57

    # An old row can no longer be re-hashed unseen: the first keyed row chains onto it.
    rehash_plainly(path, "UPDATE audit SET actor = 'U0LEAD1' WHERE id = 3", upto=55)
    result = AuditTrail(Store(path), keys=KEYS).verify(plain_until=55)
    assert not result.ok and result.first_bad_id == 56


def test_a_keyed_trail_re_hashed_whole_without_the_key_fails_and_is_not_re_signed(
    tmp_path: Path,
) -> None:
    """Someone who can write the store but has no key edits a row and re-hashes every row
    as plain SHA-256: verify refuses the unsigned rows, and the bot's next entry (which
    starts a keyed chain on top) does not make them pass."""
    path = tmp_path / "s.db"
    trail_with_rows(path, count=4)
    connection = sqlite3.connect(path)
    connection.execute("UPDATE audit SET chain = NULL")
    connection.commit()
    connection.close()
    rehash_plainly(path, "UPDATE audit SET actor = 'U0LEAD1' WHERE id = 2", upto=4)
    connection = sqlite3.connect(path)
    [(newest,)] = connection.execute("SELECT hash FROM audit WHERE id = 4").fetchall()
    connection.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"4:{newest}",))
    connection.commit()
    connection.close()

    assert not AuditTrail(Store(path), keys=KEYS).verify().ok
    trail = AuditTrail(Store(path), keys=KEYS)
    trail.record(AuditEntry("U0OPS1", "slack", "command.status"), NOW)
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 1
    assert "plain SHA-256, not signed with the audit key" in (result.problem or "")


def test_a_new_key_starts_with_a_marker_and_the_old_key_verifies_what_it_signed(
    store_factory: StoreFactory,
) -> None:
    trail_with_rows(store_factory(), count=3)
    old_key = parse_key(AUDIT_KEY)
    rotated = AuditKeys(parse_key(NEW_KEY), (old_key,))
    trail = AuditTrail(store_factory(), keys=rotated)
    assert trail.record(AuditEntry("U0OPS1", "slack", "command.status"), NOW) == 5

    marker = trail.latest(limit=2)[1]
    assert marker["action"] == "audit.key_rotated"
    assert json.loads(marker["args"]) == {"key": rotated.current.id, "previous_key": old_key.id}
    result = trail.verify()
    assert result.ok and result.rows_checked == 5

    without_the_old_key = AuditTrail(store_factory(), keys=parse_keys(NEW_KEY, None)).verify()
    assert not without_the_old_key.ok and without_the_old_key.first_bad_id == 1
    assert f"signed with audit key {old_key.id}" in (without_the_old_key.problem or "")
    assert "STAGGER_AUDIT_OLD_KEYS" in (without_the_old_key.problem or "")


def test_a_process_on_a_retired_key_refuses_to_write_and_says_to_restart(
    store_factory: StoreFactory,
) -> None:
    stale = trail_with_rows(store_factory(), count=3)
    rotated_keys = AuditKeys(parse_key(NEW_KEY), (parse_key(AUDIT_KEY),))
    rotated = AuditTrail(store_factory(), keys=rotated_keys)
    rotated.record(AuditEntry("U0OPS1", "slack", "command.status"), NOW)

    with pytest.raises(ConfigError, match="was retired at audit row 4: restart it"):
        stale.record(AuditEntry("U0OPS1", "slack", "command.status"), NOW)
    assert rotated.verify().rows_checked == 5


def append_signed(path: Path, key: AuditKey, action: str, args: dict[str, str]) -> None:
    """A row appended as someone holding `key` can: correctly chained and signed."""
    connection = sqlite3.connect(path)
    head_id, head_hash = connection.execute(
        "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"
    ).fetchone()
    row = {
        "id": head_id + 1, "at": "2026-02-01T13:00:00Z", "actor": "bot", "source": "bot",
        "action": action, "env": None, "args": json.dumps(args), "outcome": "ok", "detail": "",
        "chain": chain_of(key), "prev_hash": head_hash,
    }  # fmt: skip
    row["hash"] = keyed_hash(key, head_hash, row)
    connection.execute(
        f"INSERT INTO audit ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    connection.execute(
        "UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{row['id']}:{row['hash']}",)
    )
    connection.commit()
    connection.close()


def test_rows_signed_with_a_retired_key_after_its_successor_are_named(tmp_path: Path) -> None:
    """A retired key kept in STAGGER_AUDIT_OLD_KEYS verifies the past, and only the past:
    rows appended with it after the rotation, a rotation marker "back" included, are not."""
    path = tmp_path / "s.db"
    trail_with_rows(path, count=3)
    old, new = parse_key(AUDIT_KEY), parse_key(NEW_KEY)
    AuditTrail(Store(path), keys=AuditKeys(new, (old,))).record(
        AuditEntry("U0OPS1", "slack", "command.status"), NOW
    )
    append_signed(path, old, "audit.key_rotated", {"key": old.id, "previous_key": new.id})
    append_signed(path, old, "rollback.approved", {"request": "RFORGE"})

    result = AuditTrail(Store(path), keys=AuditKeys(new, (old,))).verify()
    assert not result.ok and result.first_bad_id == 6
    assert f"signed with audit key {old.id}, which was retired at row 4" in (result.problem or "")


def test_recording_without_a_key_says_which_variable_to_set(store_factory: StoreFactory) -> None:
    with pytest.raises(ConfigError, match="STAGGER_AUDIT_KEY is not set"):
        AuditTrail(store_factory()).record(AuditEntry("bot", "bot", "x"), NOW)
