"""The composition root: the audit keys are secrets like the Slack ones, kept out of the
audit trail and the logs wherever a message happens to carry them."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.core.audit_key import parse_keys
from bot.core.clock import ManualClock
from bot.core.redaction import Redactor
from bot.core.spec import parse_spec
from bot.hosts.local_transport import LocalTransport
from bot.runtime import build_context, secrets_of
from bot.settings import Settings
from bot.slack.poster import ConsolePoster
from bot.store.audit import AuditEntry, AuditTrail
from tests.support.spec_data import AUDIT_KEY, START, spec_data
from tests.support.store_backends import StoreFactory

OLD_KEYS = ("ab" * 32, "cd" * 40)


def test_the_audit_keys_never_reach_the_trail_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_environ(
        {
            "STAGGER_DB": str(tmp_path / "s.db"),
            "STAGGER_AUDIT_KEY": AUDIT_KEY,
            "STAGGER_AUDIT_OLD_KEYS": ",".join(OLD_KEYS),
        }
    )
    spec = parse_spec(
        spec_data(["sim@prod-1"], tmp_path, known_hosts=tmp_path / "kh", key_file=tmp_path / "k")
    )
    context = build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(io.StringIO()),
        clock=ManualClock(START),
    )  # fmt: skip
    leaked = f"env dump: key={AUDIT_KEY} old={OLD_KEYS[0]} {OLD_KEYS[1]}"
    context.record(
        AuditEntry("bot", "bot", "spec.reload_refused", None, {"why": leaked}, "x", leaked)
    )

    logger = logging.getLogger("stagger-test")
    logger.addFilter(Redactor(secrets_of(settings)))
    with caplog.at_level(logging.INFO, logger="stagger-test"):
        logger.info("starting with %s", leaked)

    exported = io.StringIO()
    context.audit.export(exported, "jsonl")
    for where, text in (("audit trail", exported.getvalue()), ("log", caplog.text)):
        for secret in (AUDIT_KEY, *OLD_KEYS):
            assert secret not in text, f"an audit key leaked into the {where}"
        assert "[redacted]" in text


def test_a_postgresql_store_in_stagger_db_holds_the_bots_state_and_its_password_stays_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, pg_store: StoreFactory
) -> None:
    # The machine's server trusts loopback: any password gets in, and must never show.
    dsn = str(pg_store.location).replace("postgres@", "postgres:pg-pass-8f3c@")
    settings = Settings.from_environ({"STAGGER_DB": dsn, "STAGGER_AUDIT_KEY": AUDIT_KEY})
    assert settings.store_location() == dsn
    spec = parse_spec(
        spec_data(["sim@prod-1"], tmp_path, known_hosts=tmp_path / "kh", key_file=tmp_path / "k")
    )
    context = build_context(
        settings, spec, transport=LocalTransport(), poster=ConsolePoster(io.StringIO()),
        clock=ManualClock(START),
    )  # fmt: skip
    try:
        context.record(AuditEntry("U0OPS1", "cli", "command.status", "prod", {"dsn": dsn}))
        assert "pg-pass-8f3c" not in context.store.where
        assert not (tmp_path / "stagger.db").exists() and not Path("stagger.db").exists()
        rows = list(AuditTrail(pg_store(), keys=parse_keys(AUDIT_KEY, None)).rows())
        assert [row["action"] for row in rows] == ["command.status"]
        assert "pg-pass-8f3c" not in rows[0]["args"]

        logger = logging.getLogger("stagger-test")
        logger.addFilter(Redactor(secrets_of(settings)))
        with caplog.at_level(logging.INFO, logger="stagger-test"):
            logger.info("connecting as %s; password pg-pass-8f3c", dsn)
        assert "pg-pass-8f3c" not in caplog.text and "[redacted]" in caplog.text
    finally:
        context.store.close()
