"""Where a host is: `user@host[:port]` as the spec writes it, parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_IPV6 = re.compile(r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")
_ADDRESS = re.compile(
    r"(?P<user>[^@]*)@(?:\[(?P<v6>[^]]*)\]|(?P<host>[^@:[\]]*))(?::(?P<port>.*))?"
)


def _address_problem(text: str, match: re.Match[str] | None) -> str | None:
    if not text.strip() or any(char.isspace() for char in text):
        return "it is empty or contains whitespace"
    if match is None:
        return "the user is missing" if "@" not in text else "it has a stray @, [ or ]"
    user, v6, host, port = match.group("user", "v6", "host", "port")
    if not _NAME.fullmatch(user):
        return f"{user!r} is not a user name" if user else "the user is missing"
    if port is not None and ":" in port:
        return "an IPv6 address needs brackets, as in user@[::1]:22"
    if v6 is not None and not _IPV6.fullmatch(v6):
        return f"{v6!r} is not an IPv6 address"
    if v6 is None and not _NAME.fullmatch(host):
        return f"{host!r} is not a host name" if host else "the host is empty"
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"the port {port!r} is not a number from 1 to 65535"
    return None


@dataclass(frozen=True)
class HostAddress:
    user: str
    host: str
    port: int = 22

    @classmethod
    def parse(cls, text: str) -> HostAddress:
        """`user@host`, `user@host:port` or `user@[ipv6]:port`."""
        match = _ADDRESS.fullmatch(text)
        problem = _address_problem(text, match)
        if problem or match is None:
            raise ValueError(f"bad host {text!r}: {problem} (expected user@host or user@host:port)")
        port = match["port"]
        return cls(match["user"], match["v6"] or match["host"], int(port) if port else 22)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}" if self.port == 22 else f"{self.user}@{host}:{self.port}"
