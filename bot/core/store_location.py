"""Where the store is: a file path (SQLite, the embedded default) or a PostgreSQL DSN
(`postgresql://` or `postgres://`), and how a DSN is named in messages (never with its
password)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

DSN_SCHEMES = ("postgresql://", "postgres://")
# key=value DSNs (`host=db password=...`) and URLs: the password, wherever it is given.
_URL_PASSWORD = re.compile(r"(://[^:/@?#]*:)([^@/?#]*)(@)")
_QUERY_PASSWORD = re.compile(r"((?:^|[?&\s])password=)('[^']*'|[^&\s]*)", re.IGNORECASE)


def is_dsn(location: str | Path) -> bool:
    return isinstance(location, str) and location.lower().startswith(DSN_SCHEMES)


def redacted(dsn: str) -> str:
    """The DSN as it may be shown: the password (in the URL or its query) replaced."""
    hidden = _URL_PASSWORD.sub(r"\1***\3", dsn)
    return _QUERY_PASSWORD.sub(r"\1***", hidden)


def password_of(dsn: str) -> str | None:
    """The DSN's password, for the logs' redactor; None without one."""
    parts = urlsplit(dsn)
    if parts.password:
        return unquote(parts.password)
    for name, value in parse_qsl(parts.query):
        if name == "password" and value:
            return value
    return None
