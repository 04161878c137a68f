"""Secrets never reach the log: the filter every log handler carries redacts tokens, DSN
passwords, private keys and the deployment's own secrets from each record."""

from __future__ import annotations

import io
import logging

import pytest

from bot.core.redaction import RedactingFormatter, Redactor, redact

TOKEN = "xoxb-1234-5678-testtokenvalue"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"
DSN = "postgresql://app:s3cret-pw@db.example.com:5432/goalgpt"


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        (f"posting with {TOKEN}", TOKEN),
        (f"connecting to {DSN}", "s3cret-pw"),
        (
            "key -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "AAAA",
        ),
        ("verifying with %s", SIGNING_SECRET),
        ("password=hunter2 in the env", "hunter2"),
    ],
)
def test_a_logged_secret_is_redacted_whatever_its_form(message: str, secret: str) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Redactor([SIGNING_SECRET]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(message, *([SIGNING_SECRET] if "%s" in message else []))
    finally:
        logger.removeHandler(handler)
    written = out.getvalue()
    assert secret not in written
    assert "redacted" in written


def test_short_known_secrets_are_left_alone_so_common_words_survive() -> None:
    assert redact("the env is prod", ["prod"]) == "the env is prod"


def test_a_traceback_that_carries_a_secret_is_redacted_too() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s", [SIGNING_SECRET]))
    logger = logging.getLogger("tests.redaction.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"cannot connect to {DSN} with {TOKEN} and {SIGNING_SECRET}")
        except ValueError:
            logger.exception("the connection failed")
    finally:
        logger.removeHandler(handler)
    written = out.getvalue()
    assert "Traceback" in written and "ValueError" in written
    assert "s3cret-pw" not in written and TOKEN not in written and SIGNING_SECRET not in written
