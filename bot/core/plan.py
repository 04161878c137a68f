"""What an approval covers: the plan a request will run, pinned when it is made.

A plan holds only what decides what happens on the hosts — the env, its hosts (or the
subset a request names), the flag and its value, and for a transition the target phase
with the terms the spec sets for it (durations, success criteria). Who may approve is not
in it: that is read at the click. A spec reload that changes any of these lapses the
request; anything else in the spec leaves it alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.spec import Spec
from bot.core.spec_rollout import CriterionSpec, PhaseSpec

SHORT_DIGEST = 12


class PlanUnavailable(ValueError):
    """The spec no longer has what the request would run (its env or its phase)."""


@dataclass(frozen=True)
class Plan:
    env: str
    hosts: tuple[str, ...]
    key: str
    value: str
    # A transition's target phase and its terms as the spec states them, by name.
    phase: str | None = None
    terms: tuple[tuple[str, str], ...] = ()

    @property
    def change(self) -> str:
        return f"{self.key}={self.value}"

    def to_json(self) -> str:
        return json.dumps(self._data(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(
            env=str(data["env"]),
            hosts=tuple(str(host) for host in data["hosts"]),
            key=str(data["key"]),
            value=str(data["value"]),
            phase=None if data.get("phase") is None else str(data["phase"]),
            terms=tuple((str(name), str(text)) for name, text in data.get("terms", [])),
        )

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @property
    def short_digest(self) -> str:
        return self.digest()[:SHORT_DIGEST]

    def changes_from(self, pinned: Plan) -> list[str]:
        """What differs in this plan from `pinned`, in plain words; empty when equal."""
        changes: list[str] = []
        if self.env != pinned.env:
            changes.append(f"environment: {pinned.env} -> {self.env}")
        added = [host for host in self.hosts if host not in pinned.hosts]
        removed = [host for host in pinned.hosts if host not in self.hosts]
        if added:
            changes.append("hosts: added " + ", ".join(added))
        if removed:
            changes.append("hosts: removed " + ", ".join(removed))
        if self.change != pinned.change:
            changes.append(f"the change: {pinned.change} -> {self.change}")
        if self.phase != pinned.phase:
            changes.append(f"phase: {pinned.phase or 'none'} -> {self.phase or 'none'}")
        elif self.terms != pinned.terms:
            changes.append(f"phase {self.phase}: criteria changed ({_term_changes(self, pinned)})")
        return changes

    def _data(self) -> dict[str, object]:
        return {
            "env": self.env,
            "hosts": list(self.hosts),
            "key": self.key,
            "value": self.value,
            "phase": self.phase,
            "terms": [list(term) for term in self.terms],
        }


def _term_changes(new: Plan, pinned: Plan) -> str:
    before, after = dict(pinned.terms), dict(new.terms)
    words = []
    for name in dict.fromkeys([*before, *after]):
        if name not in after:
            words.append(f"{name} removed (was {before[name]})")
        elif name not in before:
            words.append(f"{name} added: {after[name]}")
        elif before[name] != after[name]:
            words.append(f"{name} {before[name]} -> {after[name]}")
    return "; ".join(words)


def plan_of(spec: Spec, action: str, env: str, args: Mapping[str, str]) -> Plan:
    """The plan a request (`action` on `env` with `args`) runs under `spec`, or
    PlanUnavailable saying what the spec no longer has."""
    if action == "transition":
        name = args.get("phase", "")
        phase = spec.phase(name)
        if phase is None:
            raise PlanUnavailable(f"phase {name} is no longer in the spec")
        value = "true" if phase.stagger else "false"
        return Plan(
            phase.env,
            _hosts(spec, phase.env, args),
            spec.flag.name,
            value,
            phase.name,
            phase_terms(phase),
        )
    job = args.get("job")
    key, value = (spec.flag.job_prefix + job, "0") if job else (spec.flag.name, "false")
    return Plan(env, _hosts(spec, env, args), key, value)


def _hosts(spec: Spec, env: str, args: Mapping[str, str]) -> tuple[str, ...]:
    environment = spec.environment(env)
    if environment is None:
        raise PlanUnavailable(f"environment {env} is no longer in the spec")
    subset = [host.strip() for host in args.get("hosts", "").split(",") if host.strip()]
    hosts = [host for host in subset if host in environment.hosts] if subset else environment.hosts
    return tuple(sorted(hosts))


def phase_terms(phase: PhaseSpec) -> tuple[tuple[str, str], ...]:
    """The phase's terms as the spec states them: its durations, then each criterion."""
    terms = [
        ("min_hours", _number(phase.min_duration_h)),
        ("max_hours", "none" if phase.max_duration_h is None else _number(phase.max_duration_h)),
    ]
    terms.extend((kpi, _criterion(criterion)) for kpi, criterion in sorted(phase.success.items()))
    return tuple(terms)


def _criterion(criterion: CriterionSpec) -> str:
    text = criterion.condition
    if criterion.margin_pct is not None:
        text += f" (margin {_number(criterion.margin_pct)}%)"
    if criterion.margin_points is not None:
        text += f" (margin {_number(criterion.margin_points)} points)"
    return text + (" (dry run)" if criterion.dry_run else "")


def _number(value: float) -> str:
    return f"{value:g}"
