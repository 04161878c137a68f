"""What the spec's values look like: Slack ids, env and job names, KPI conditions; the
base of every section (frozen, unknown keys refused)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
JOB_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,47}$")
CONDITION = re.compile(r"^(change\s*)?(<|<=|>|>=)\s*(-?\d+(?:\.\d+)?)\s*(%)?$")
PHASE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,47}$")
FLAG_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]*$")
ENV_VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SQL_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
SQL_TABLE = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")

# What a value matching each pattern looks like, said in a problem instead of the regex.
PATTERN_MEANINGS = {
    SLACK_CHANNEL_ID.pattern: "a Slack channel ID like C0123ABCD, not a #name",
    SLACK_USER_ID.pattern: "a Slack user ID like U0123ABCD, not a @name",
    JOB_KEY.pattern: "capitals, digits and _, starting with a letter, at most 48 long",
    PHASE_NAME.pattern: "lower case, digits and -, starting with a letter, like staging-stagger",
    FLAG_PREFIX.pattern: "capitals, digits and _, starting with a letter, like JOB_STAGGER_",
    ENV_VARIABLE.pattern: "an environment variable's name like PROD_DATABASE_URL",
    SQL_COLUMN.pattern: "a column name in lower case, digits and _, like started_at",
    SQL_TABLE.pattern: "a table name in lower case, digits and _, like job_execution_logs "
    "or schema.table",
}

UserId = Annotated[str, Field(pattern=SLACK_USER_ID.pattern)]


def check_condition(value: str) -> str:
    if not CONDITION.match(value.strip()):
        raise ValueError(f"{value!r} is not a condition like '< 40', '> 60' or 'change <= -30%'")
    return value.strip()


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` naming the known word nearest a misspelt one, or ''."""
    by_folded = {name.casefold(): name for name in known}
    folded = word.casefold()
    close = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)
    if not close:  # `production` for `prod`: too short for a ratio, plain as a prefix
        close = [name for name in by_folded if len(name) >= 3 and folded.startswith(name)]
    return f"; did you mean {by_folded[close[0]]!r}?" if close else ""


def nearest_or_known(word: str, known: Collection[str]) -> str:
    """`; did you mean 'x'?`, or else ` (known: a, b)`: one of them, never both."""
    return did_you_mean(word, known) or f" (known: {', '.join(known) or 'none'})"


class SpecSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
