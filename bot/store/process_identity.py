"""The name this process gives the work it claims in the store: host, PID and a random
token, fixed for the life of the process. A restarted process, in this container or
another, never shares a name with the one before it, so a claim is this process's only
if this process made it; whether the owner still works is told by its lease, never by
looking for its PID."""

from __future__ import annotations

import os
import secrets
import socket

_NAME = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def this_process() -> str:
    return _NAME
