"""Host tiers: the order a change reaches an env's hosts in — its canary hosts first, then
the rest in spec order, in batches of at most `max_parallel` — and the words for where
each host of an execution stands.

Pure: the spec's lists in, tiers and words out. The runner stops at the first tier with
a failed host; the hosts of the tiers after it are `not started`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

CANARY = "canary"
ALL_HOSTS = "all hosts"

_PERCENT = re.compile(r"(\d{1,3})%")


class HostState(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    NOT_STARTED = "not started"
    SKIPPED = "skipped: left the spec"

    @property
    def mark(self) -> str:
        return {
            HostState.VERIFIED: ":white_check_mark:",
            HostState.FAILED: ":x:",
            HostState.NOT_STARTED: ":white_circle:",
            HostState.SKIPPED: ":heavy_minus_sign:",
        }[self]


@dataclass(frozen=True)
class HostStanding:
    """Where one host of an execution stands: its tier, its state, what its run said."""

    host: str
    tier: str
    state: HostState
    detail: str = ""


def tiers_of(standings: Sequence[HostStanding]) -> tuple[Tier, ...]:
    """The tiers an execution planned, in order, from its hosts' standings."""
    names: dict[str, list[str]] = {}
    for standing in standings:
        names.setdefault(standing.tier, []).append(standing.host)
    return tuple(Tier(name, tuple(hosts)) for name, hosts in names.items())


def counts(standings: Sequence[HostStanding]) -> dict[HostState, int]:
    found = dict.fromkeys(HostState, 0)
    for standing in standings:
        found[standing.state] += 1
    return found


@dataclass(frozen=True)
class Tier:
    """One step of a change: `name` (`canary`, `batch 2`, `all hosts`) and its hosts."""

    name: str
    hosts: tuple[str, ...]

    def label(self) -> str:
        return f"{self.name} ({', '.join(self.hosts)})"


def max_parallel_problem(value: int | str) -> str | None:
    """Why `value` is no `max_parallel` (a number >= 1, or "N%" with N from 1 to 100)."""
    if isinstance(value, bool):
        return 'must be a number of hosts (1 or more) or a percentage like "25%"'
    if isinstance(value, int):
        return None if value >= 1 else f"{value} is not a number of hosts: use 1 or more"
    match = _PERCENT.fullmatch(value.strip())
    if match is None:
        return f'{value!r} is not a number of hosts or a percentage like "25%"'
    if not 1 <= int(match[1]) <= 100:
        return f"{value!r}: a percentage must be from 1% to 100%"
    return None


def batch_size(max_parallel: int | str, hosts: int) -> int:
    """How many of `hosts` (the non-canary ones) go at once: a number as it is, a
    percentage rounded up; never less than one."""
    if isinstance(max_parallel, int):
        return max(1, max_parallel)
    percent = int(max_parallel.strip().rstrip("%"))
    return max(1, math.ceil(percent * hosts / 100))


def plan_tiers(
    hosts: Sequence[str], canary: Sequence[str], max_parallel: int | str
) -> tuple[Tier, ...]:
    """The canary tier (if any), then the other hosts in spec order, `max_parallel` at a
    time. Without a canary and with all hosts allowed at once: one tier, as always."""
    rest = [host for host in hosts if host not in canary]
    size = batch_size(max_parallel, len(rest))
    tiers: list[Tier] = []
    if canary:
        tiers.append(Tier(CANARY, tuple(host for host in hosts if host in canary)))
    batches = [tuple(rest[i : i + size]) for i in range(0, len(rest), size)]
    if not canary and len(batches) == 1:
        return (Tier(ALL_HOSTS, batches[0]),)
    tiers.extend(
        Tier(f"batch {n}", batch) for n, batch in enumerate(batches, start=2 if canary else 1)
    )
    return tuple(tiers)


def restricted(tiers: Iterable[Tier], hosts: Iterable[str]) -> tuple[Tier, ...]:
    """`tiers` with only `hosts` left (a retry), empty tiers dropped, names kept."""
    wanted = set(hosts)
    kept = (Tier(tier.name, tuple(h for h in tier.hosts if h in wanted)) for tier in tiers)
    return tuple(tier for tier in kept if tier.hosts)


def not_started_text(tiers: Sequence[Tier]) -> str:
    """`batch 3 (web-4, web-5) not started`, for the tiers a failure stopped."""
    if not tiers:
        return ""
    return "; ".join(tier.label() for tier in tiers) + " not started"
