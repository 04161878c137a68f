"""STAGGER_DB's value: a path is SQLite, a postgresql:// or postgres:// DSN PostgreSQL; a
DSN shown anywhere has its password replaced, however it was given."""

from __future__ import annotations

from pathlib import Path

from bot.core.store_location import is_dsn, password_of, redacted


def test_a_dsn_is_told_from_a_path() -> None:
    assert is_dsn("postgresql://db/ops") and is_dsn("POSTGRES://db/ops")
    assert not is_dsn("stagger.db") and not is_dsn(Path("postgresql:/x"))
    assert not is_dsn("/var/lib/postgresql/stagger.db")


def test_the_password_is_hidden_in_the_url_and_in_its_query() -> None:
    assert redacted("postgresql://stagger:s3cr%40t@db:5432/ops?schema=x") == (
        "postgresql://stagger:***@db:5432/ops?schema=x"
    )
    assert redacted("postgresql://db/ops?user=stagger&password=hunter2&sslmode=require") == (
        "postgresql://db/ops?user=stagger&password=***&sslmode=require"
    )
    assert redacted("postgresql://stagger@db/ops") == "postgresql://stagger@db/ops"


def test_the_password_is_found_for_the_logs_redactor() -> None:
    assert password_of("postgresql://stagger:s3cr%40t@db/ops") == "s3cr@t"
    assert password_of("postgresql://db/ops?password=hunter2") == "hunter2"
    assert password_of("postgresql://stagger@db/ops") is None
