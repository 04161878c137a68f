"""The exception tree.

    StaggerError                 anything stagger-bot raises on purpose
    ├── UserError                the message is shown to the person who asked, as is
    │   ├── UsageError           the command's words are wrong (reply carries the usage)
    │   └── NotAllowed           the caller may not do this (approver, operator, self-approval)
    ├── SpecError                the rollout spec is invalid (each problem names its key path)
    ├── ConfigError              the process's environment is missing or has a bad variable
    ├── StoreError               the store (SQLite or PostgreSQL) could not be read or written
    └── RemoteError              a host could not be reached or a command failed to run
        ├── HostKeyError         unknown or changed host key (never auto-added)
        ├── HostUnreachable      refused, down, DNS, connect or banner timeout
        ├── AuthenticationFailed key rejected
        └── CommandTimeout       the command did not finish in time

Errors are translated to replies in exactly one place: `commands.dispatch`.
"""

from __future__ import annotations


class StaggerError(Exception):
    """Base of every error stagger-bot raises on purpose."""


class UserError(StaggerError):
    """An error whose message is meant for the person who issued the command."""


class UsageError(UserError):
    """The command's words are wrong; the reply shows the usage of `command`."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class NotAllowed(UserError):
    """The caller is not allowed to do what they asked."""


class SpecError(StaggerError):
    """The rollout spec is invalid. `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class ConfigError(StaggerError):
    """A variable the process needs is missing or malformed; the message says how to set
    it and never shows its value."""


class StoreError(StaggerError):
    """The state and audit store failed."""


class StoreUnreachable(StoreError):
    """The store's server does not answer (down, or the session to it was cut): nothing
    was written."""


class RemoteError(StaggerError):
    """A remote host could not be used."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message


class HostKeyError(RemoteError):
    """The host key is unknown or differs from known_hosts."""


class HostUnreachable(RemoteError):
    """The host could not be connected to."""


class AuthenticationFailed(RemoteError):
    """The host rejected our key."""


class CommandTimeout(RemoteError):
    """A remote command did not finish within its timeout."""
