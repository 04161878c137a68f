"""The keys the audit trail's chain is signed with (HMAC-SHA256), read from the environment
as text: at least 32 bytes, written as hex or base64. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string
from dataclasses import dataclass, field

from bot.core.errors import ConfigError

KEY_VARIABLE = "STAGGER_AUDIT_KEY"
OLD_KEYS_VARIABLE = "STAGGER_AUDIT_OLD_KEYS"
MIN_KEY_BYTES = 32
MAKE_A_KEY = 'python3 -c "import secrets; print(secrets.token_hex(32))"'
_HOW = (
    f"make one with `{MAKE_A_KEY}` and set {KEY_VARIABLE} to it in the environment of every "
    'stagger-bot process (see README.md, "The audit trail")'
)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+=*")


@dataclass(frozen=True)
class AuditKey:
    secret: bytes = field(repr=False)

    @property
    def id(self) -> str:
        """Names the key in the rows it signed without telling anything about it."""
        return hmac.new(self.secret, b"stagger-bot audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class AuditKeys:
    """The key new entries are signed with, and the retired ones older entries were."""

    current: AuditKey
    old: tuple[AuditKey, ...] = ()

    def by_id(self) -> dict[str, AuditKey]:
        return {key.id: key for key in (*self.old, self.current)}


def parse_key(text: str, variable: str = KEY_VARIABLE) -> AuditKey:
    """The key in `text`; a ConfigError names what is wrong, never the text itself."""
    value = text.strip()
    if all(c in string.hexdigits for c in value):
        if len(value) % 2:
            raise ConfigError(f"{variable} has an odd number of hex digits; {_HOW}")
        secret = bytes.fromhex(value)
    else:
        try:
            secret = _base64(value)
        except ValueError:  # binascii.Error is one
            raise ConfigError(f"{variable} is neither hex nor base64; {_HOW}") from None
    if len(secret) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{variable} is {len(secret)} bytes; it needs at least {MIN_KEY_BYTES}: {_HOW}"
        )
    return AuditKey(secret)


def parse_keys(current: str | None, old: str | None) -> AuditKeys:
    """`current` is STAGGER_AUDIT_KEY, `old` the comma-separated STAGGER_AUDIT_OLD_KEYS."""
    if not current or not current.strip():
        raise ConfigError(f"{KEY_VARIABLE} is not set: the audit trail is signed with it; {_HOW}")
    olds = []
    for number, text in enumerate((old or "").split(","), start=1):
        if text.strip():
            olds.append(parse_key(text, f"{OLD_KEYS_VARIABLE} (key {number})"))
    return AuditKeys(parse_key(current), tuple(olds))


def _base64(value: str) -> bytes:
    if not _BASE64.fullmatch(value):
        raise ValueError("not base64")
    padded = value.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    if "-" in padded or "_" in padded:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)
