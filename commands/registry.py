"""The table of `/stagger` subcommands by name. The package fills it at import; `help`
reads it without importing the package that imports `help`."""

from __future__ import annotations

import difflib
from types import ModuleType

COMMANDS: dict[str, ModuleType] = {}


def register(*modules: ModuleType) -> None:
    for module in modules:
        COMMANDS[module.NAME] = module


def close_names(word: str) -> str:
    """`Did you mean `rollback`?` for a misspelt command, or the way to the list."""
    close = difflib.get_close_matches(word.lower(), COMMANDS, n=3, cutoff=0.6)
    if not close:
        return "Try `/stagger help`."
    return "Did you mean " + " or ".join(f"`{name}`" for name in close) + "?"


def usage_text(name: str) -> str:
    module = COMMANDS[name]
    return f"Usage: `/stagger {module.USAGE}` — {module.SUMMARY}"
