"""The knobs a rehearsal scenario turns on the simulated fleet: plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ErrorSpike:
    """Jobs on `env`'s hosts fail at `rate` (0–1) from `since` (None: from the start).

    With `only_while_staggered` the failures follow the stagger: they start when a host's
    runner reloads with it on (or `after` that) and stop when a rollback turns it off — a
    bug in the new code.
    """

    env: str
    rate: float
    since: datetime | None = None
    only_while_staggered: bool = True
    after: timedelta = timedelta(0)
    # Kept free of "metadata": that word makes a failure a db_metadata_errors KPI hit.
    message: str = "TypeError: Cannot read properties of undefined (reading 'offset')"


@dataclass(frozen=True)
class HostDown:
    """`host` (a hostname) stops answering at `since` (None: from the start). Its runner
    writes nothing from then on; the rehearsal makes the transport fail for it."""

    host: str
    since: datetime | None = None


@dataclass(frozen=True)
class FleetKnobs:
    failure_rate: float = 0.0  # base rate of job failures, 0–1, on every host
    error_spike: ErrorSpike | None = None
    host_down: HostDown | None = None
    # From then on no job-execution row reaches PostgreSQL; the log is unaffected.
    database_down_since: datetime | None = None
    # Every run of a job while it is staggered takes this many times as long: below 1
    # the new code is faster too, above 1 it gives back part of what the stagger gains.
    staggered_duration_factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.staggered_duration_factor > 0:
            raise ValueError("the staggered duration factor must be above 0")
        rates = [self.failure_rate] + ([self.error_spike.rate] if self.error_spike else [])
        if any(not 0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError("failure rates are fractions from 0 to 1")
        moments = [
            self.error_spike.since if self.error_spike else None,
            self.host_down.since if self.host_down else None,
            self.database_down_since,
        ]
        if any(moment is not None and moment.tzinfo is None for moment in moments):
            raise ValueError("knob times must be timezone-aware")
