"""Splitting `/stagger` text into words and options."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bot.core.errors import UsageError
from bot.core.spec import Spec

# Slack turns straight quotes into typographic ones as people type.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
MAX_TEXT = 2000


def straight_quotes(text: str) -> str:
    """Typographic quotes as the straight ones they were typed as, as `split_words` reads
    them: text quoted for it (a button's value) must be straightened first."""
    return text.translate(_QUOTES)


def split_words(text: str) -> list[str]:
    if len(text) > MAX_TEXT:
        raise UsageError(f"That command is {len(text)} characters long; the limit is {MAX_TEXT}.")
    try:
        return shlex.split(straight_quotes(text))
    except ValueError as error:
        raise UsageError(f"Could not read the command: {error} (check your quotes).") from None


@dataclass(frozen=True)
class Parsed:
    positionals: list[str]
    options: dict[str, str] = field(default_factory=dict)


def parse_options(
    words: list[str],
    command: str,
    value_options: tuple[str, ...],
    flags: tuple[str, ...] = (),
) -> Parsed:
    """`--name VALUE` or `--name=VALUE` for the options given, `--flag` (value "yes") for
    the flags; anything else starting with `--` is refused by name."""
    positionals: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--") and len(word) > 2:
            name, _, inline = word.partition("=")
            if name in flags and not inline:
                options[name] = "yes"
                index += 1
                continue
            if name not in value_options:
                raise UsageError(f"Unknown option `{name}`.", command)
            if inline:
                value = inline
            elif index + 1 < len(words):
                index += 1
                value = words[index]
            else:
                raise UsageError(f"`{name}` needs a value.", command)
            options[name] = value
        else:
            positionals.append(word)
        index += 1
    return Parsed(positionals, options)


def require_env(spec: Spec, name: str | None, command: str) -> str:
    if not name:
        raise UsageError("Which environment? " + _known(spec), command)
    if spec.environment(name) is None:
        raise UsageError(f"Unknown environment `{name}`. " + _known(spec), command)
    return name


def _known(spec: Spec) -> str:
    return "Known: " + ", ".join(f"`{name}`" for name in spec.environments) + "."


def single_line(text: str, what: str, limit: int = 500) -> str:
    cleaned = " ".join(text.split())
    if len(cleaned) > limit:
        raise UsageError(f"The {what} is {len(cleaned)} characters; keep it under {limit}.")
    return cleaned
