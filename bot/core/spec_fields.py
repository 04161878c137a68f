"""What the spec's values look like: Slack ids, env and job names, KPI conditions; the
base of every section (frozen, unknown keys refused)."""

from __future__ import annotations

import re
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

UserId = Annotated[str, Field(pattern=SLACK_USER_ID.pattern)]


def check_condition(value: str) -> str:
    if not CONDITION.match(value.strip()):
        raise ValueError(f"{value!r} is not a condition like '< 40', '> 60' or 'change <= -30%'")
    return value.strip()


class SpecSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
