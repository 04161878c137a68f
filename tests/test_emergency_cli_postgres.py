"""`audit import` into a PostgreSQL store: the journal of an emergency rollback made with
the store down lands in the shared store's trail once, however often it is imported."""

from __future__ import annotations

from pathlib import Path

from bot.store.audit import AuditTrail
from tests.support.store_backends import StoreFactory
from tests.test_emergency_cli import journal_lines, one_host, stagger_bot, store_down

__all__ = ["one_host"]  # the fixture, used by name


def test_an_emergency_journal_imports_into_a_postgresql_store_once_and_the_trail_verifies(
    tmp_path: Path, one_host: tuple[Path, Path], pg_store: StoreFactory
) -> None:
    spec, _app = one_host
    rolled_back = stagger_bot(
        "emergency-rollback", "prod", "--reason", "pool at 95%", "--config", str(spec),
        cwd=tmp_path, db=store_down(tmp_path),
    )  # fmt: skip
    assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
    journal = tmp_path / "stagger-emergency-journal.jsonl"
    dsn = str(pg_store.location)
    status = stagger_bot(
        "cmd", "--user", "U0OPS1", "status prod", cwd=tmp_path, db=dsn, STAGGER_CONFIG=str(spec)
    )
    assert status.returncode == 0, status.stderr

    first = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=dsn)
    again = stagger_bot("audit", "import", str(journal), cwd=tmp_path, db=dsn)

    count = len(journal_lines(journal))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"imported {count} entries from {journal}" in first.stdout
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"imported 0 entries from {journal}" in again.stdout
    assert f"{count} already in the trail, skipped" in again.stdout
    rows = list(AuditTrail(pg_store()).rows())
    assert not (tmp_path / "stagger.db").exists()  # nothing went to a SQLite file instead
    assert sum(row["source"] == "emergency" for row in rows) == count
    verified = stagger_bot("audit", "verify", cwd=tmp_path, db=dsn)
    assert verified.returncode == 0 and "chain intact" in verified.stdout, verified.stdout
    assert len({row["chain"] for row in rows}) == 1
