"""Keep secrets out of logs, replies and the audit trail.

A pipeline of pure text transforms; `Redactor` also serves as a logging filter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), "xox?-[redacted]"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-[redacted]"),
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        "[redacted private key]",
    ),
    # user:password@ in any URL-shaped DSN (postgres://, postgresql://, mysql://, redis://, ...)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@"), r"\1:[redacted]@"),
    (re.compile(r"(?i)\b(password|passwd|secret|token)=\S+"), r"\1=[redacted]"),
)


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in extra_secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    return text


class Redactor(logging.Filter):
    """A logging filter that redacts every record's message and the known secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message, self._secrets)
        record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record — a traceback and its exception text too, which
    a filter on the message alone never sees."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)
