"""`stagger-bot store migrate --from PATH_OR_DSN --to PATH_OR_DSN`: a stopped bot's store
copied to another engine (`bot.store.migration_copy`), and the audit trail verified on
the copy, as `audit verify` with STAGGER_DB set to the target would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.core.errors import StaggerError
from bot.core.store_location import is_dsn, redacted
from bot.settings import Settings

EXIT_OK, EXIT_FAILED = 0, 1


def store_migrate(source: str, target: str, settings: Settings) -> int:
    from bot.runtime import secrets_of
    from bot.store.audit import AuditTrail
    from bot.store.migration_copy import copy_store
    from bot.store.store import Store

    keys = settings.audit_keys()
    source_location = _location(source)
    if isinstance(source_location, Path) and not source_location.is_file():
        raise StaggerError(f"no store at {source_location} to migrate from")
    target_location = _location(target)
    if _same(source_location, target_location):
        raise StaggerError("--from and --to name the same store")
    source_store = Store(source_location)
    try:
        target_store = Store(target_location)
        try:
            copied = copy_store(source_store, target_store, datetime.now(UTC))
            result = AuditTrail(target_store, secrets_of(settings), keys).verify()
        finally:
            target_store.close()
    finally:
        source_store.close()
    tables = ", ".join(f"{name} {count}" for name, count in copied.rows.items() if count)
    print(
        f"copied {copied.total} row(s) from {_shown(source_location)} to "
        f"{_shown(target_location)} ({tables or 'no rows'})"
    )
    if result.ok:
        newest = f", newest entry {result.newest}" if result.newest is not None else ""
        print(f"audit trail on the copy OK: {result.rows_checked} row(s), chain intact{newest}")
        return EXIT_OK
    print(
        f"audit trail on the copy BROKEN: {result.problem} "
        f"({result.rows_checked} row(s) good before it)"
    )
    return EXIT_FAILED


def _location(text: str) -> Path | str:
    return text if is_dsn(text) else Path(text)


def _same(one: Path | str, other: Path | str) -> bool:
    if isinstance(one, Path) and isinstance(other, Path):
        return one.resolve() == other.resolve()
    return one == other


def _shown(location: Path | str) -> str:
    return redacted(location) if isinstance(location, str) else str(location)
