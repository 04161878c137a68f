from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store.audit import AuditEntry, AuditTrail
from bot.store.store import Store

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def trail_with_rows(path: Path, count: int = 5) -> AuditTrail:
    trail = AuditTrail(Store(path), secrets=("xoxb-secret-token-1234",))
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


def test_an_untouched_trail_verifies(tmp_path: Path) -> None:
    result = trail_with_rows(tmp_path / "s.db").verify()
    assert result.ok and result.rows_checked == 5


def test_an_edited_row_is_named(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db")
    tamper(tmp_path / "s.db", "UPDATE audit SET outcome = 'ok' WHERE id = 3")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3 and "edited" in (result.problem or "")


def test_a_deleted_row_is_found_where_the_chain_breaks(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db")
    tamper(tmp_path / "s.db", "DELETE FROM audit WHERE id = 2")
    result = trail.verify()
    assert result.first_bad_id == 3 and "deleted" in (result.problem or "")


def test_deleting_the_newest_rows_is_found(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db")
    tamper(tmp_path / "s.db", "DELETE FROM audit WHERE id >= 4")
    result = trail.verify()
    assert not result.ok and "rows after 3 are missing" in (result.problem or "")


def test_an_inserted_row_is_found(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db")
    tamper(
        tmp_path / "s.db",
        "UPDATE audit SET id = id + 100 WHERE id >= 3",
    )
    tamper(
        tmp_path / "s.db",
        "INSERT INTO audit (id, at, actor, source, action, env, args, outcome, detail, prev_hash, "
        "hash) SELECT 3, at, 'U0EVIL', source, action, env, args, outcome, detail, hash, hash "
        "FROM audit WHERE id = 2",
    )
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3


def test_secrets_never_reach_the_trail(tmp_path: Path) -> None:
    trail = AuditTrail(Store(tmp_path / "s.db"), secrets=("xoxb-secret-token-1234",))
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


def test_export_writes_every_row_as_csv_or_jsonl(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db", count=3)
    jsonl = io.StringIO()
    assert trail.export(jsonl, "jsonl") == 3
    rows = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    csv_out = io.StringIO()
    assert trail.export(csv_out, "csv") == 3
    assert csv_out.getvalue().splitlines()[0].startswith("id,at,actor,source,action,env")


def test_latest_is_newest_first_and_filtered_by_env(tmp_path: Path) -> None:
    trail = trail_with_rows(tmp_path / "s.db", count=3)
    trail.record(AuditEntry("U0OPS1", "cli", "status", "staging"), NOW)
    assert [row["id"] for row in trail.latest("prod", 2)] == [3, 2]
    assert [row["env"] for row in trail.latest(None, 1)] == ["staging"]
