"""The bot's spec for a rehearsal: the runbook's spec pointed at the simulated fleet,
with simulated people as operator and approvers."""

from __future__ import annotations

import copy
from typing import Any

from bot.rehearsal.database import RehearsalDatabases
from bot.rehearsal.fleet import Fleet
from bot.rehearsal.scenarios import Scenario

CHANNEL = "C0ROLLOUT"
OPERATOR, LEAD, LEAD_2 = "U0OPS1", "U0LEAD1", "U0LEAD2"
NAMES = {OPERATOR: "ops-oncall", LEAD: "lead-ana", LEAD_2: "lead-ben", "UBOT": "stagger-bot"}
# Only the database has these; job durations come from the log where an env has none.
DATABASE_ONLY_KPIS = ("db_metadata_errors", "db_max_overlap")


def bot_spec(
    data: dict[str, Any], fleet: Fleet, databases: RehearsalDatabases, scenario: Scenario
) -> dict[str, Any]:
    spec = copy.deepcopy(data)
    spec["channel"] = CHANNEL
    spec["operators"] = [OPERATOR]
    spec.setdefault("alerts", {})["every_min"] = 60
    spec.setdefault("flag", {})["verify_timeout_s"] = 10
    dsns = databases.bot_dsns(scenario)
    for env, section in spec["environments"].items():
        section.update(fleet.spec_environment(env))
        if scenario.env_keys is not None:
            section.update(scenario.env_keys(env, list(section["hosts"])))
        variable = f"{env.upper().replace('-', '_')}_DATABASE_URL"
        # An env the rehearsal has no database for names none: its durations are the log's.
        section["database_url_env"] = variable if variable in dsns else None
        section["approvals"] = {
            "approvers": [LEAD, LEAD_2],
            "required": 1,
            "allow_self": False,
            "expires_after_min": 60,
        }
    if not databases.available:
        _without_database_kpis(spec, keep_in_table=scenario.prod_database_down)
    return spec


def _without_database_kpis(spec: dict[str, Any], *, keep_in_table: bool) -> None:
    """No database to read: the phases can't be gated on the KPIs only it has (job
    durations still are, from the log). In the db-down scenario the KPIs stay in the
    table, where their absence must show."""
    for phase in spec.get("phases", []):
        for kpi in DATABASE_ONLY_KPIS:
            phase.get("success", {}).pop(kpi, None)
    if keep_in_table:
        return
    for kpi in DATABASE_ONLY_KPIS:
        spec.get("kpis", {}).pop(kpi, None)
    spec["rollback_triggers"] = [
        trigger
        for trigger in spec.get("rollback_triggers", [])
        if trigger["kpi"] not in DATABASE_ONLY_KPIS
    ]
