"""The table of `/stagger` subcommands by name. The package fills it at import; `help`
reads it without importing the package that imports `help`."""

from __future__ import annotations

from types import ModuleType

COMMANDS: dict[str, ModuleType] = {}


def register(*modules: ModuleType) -> None:
    for module in modules:
        COMMANDS[module.NAME] = module


def usage_text(name: str) -> str:
    module = COMMANDS[name]
    return f"Usage: `/stagger {module.USAGE}` — {module.SUMMARY}"
