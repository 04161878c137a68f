"""Whether the SSH files the spec names can be read here. `check-config` warns rather
than refuses: it may run on a laptop, while the key and known_hosts exist only on the
machine the bot runs on."""

from __future__ import annotations

from pathlib import Path

from bot.core.spec_fleet import SshSpec

_ELSEWHERE = " (fine if it exists on the machine the bot runs on)"


def ssh_file_warnings(ssh: SshSpec) -> list[str]:
    warnings = []
    for key, written, path in (
        ("ssh.key_file", ssh.key_file, ssh.key_path),
        ("ssh.known_hosts", ssh.known_hosts, ssh.known_hosts_path),
    ):
        problem = _unreadable(path)
        if problem is not None:
            shown = str(path) if path == written else f"{written} ({path})"
            warnings.append(f"{key}: {shown} {problem}")
    return warnings


def _unreadable(path: Path) -> str | None:
    try:
        with path.open("rb"):
            return None
    except FileNotFoundError:
        return "does not exist here" + _ELSEWHERE
    except IsADirectoryError:
        return "is a folder, not a file"
    except PermissionError:
        return "is not readable by this user" + _ELSEWHERE
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
