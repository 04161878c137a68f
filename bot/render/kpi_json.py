"""The KPI report as JSON for scripts: an unavailable KPI is null with its reason.

`schema_version` 2 (the output without one was 1) adds the windows' hours, the
baseline's window, where a job duration came from, and for each KPI judged against the
baseline what was compared: per hour for a count. A dry-run KPI has `"dry_run": true`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat
from bot.core.kpi_report import KpiReport, window_hours
from bot.core.thresholds import Measurement, Undecided, compare

SCHEMA_VERSION = 2


def _measurement(measurement: Measurement) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": measurement.value}
    if measurement.reason:
        entry["reason"] = measurement.reason
    if measurement.source:
        entry["source"] = measurement.source
    return entry


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": isoformat(start), "end": isoformat(end), "hours": window_hours(start, end)}


def _comparison(measurement: Measurement) -> dict[str, Any]:
    count = measurement.hours is not None
    entry: dict[str, Any] = {"baseline": measurement.baseline, "per": "hour" if count else None}
    if count:
        entry["min_events"] = measurement.min_events
    compared = compare(measurement)
    if isinstance(compared, Undecided):
        return {**entry, "reason": compared.reason}
    if count:
        entry.update(now_rate=compared.now, baseline_rate=compared.baseline)
    return {**entry, "change_pct": compared.change_pct}


def report_json(report: KpiReport) -> str:
    verdicts = {judgement.kpi: judgement.verdict.value for judgement in report.judgements}
    relative = {judgement.kpi for judgement in report.judgements if judgement.relative}
    dry_run = {judgement.kpi for judgement in report.judgements if judgement.dry_run}
    document = {
        "schema_version": SCHEMA_VERSION,
        "env": report.env,
        "window": _window(report.start, report.end),
        "baseline": _window(*report.baseline_window) if report.baseline_window else None,
        "kpis": {
            # KPIs without a row in the thresholds table have verdict null.
            name: {
                **_measurement(measurement),
                "verdict": verdicts.get(name),
                **({"comparison": _comparison(measurement)} if name in relative else {}),
                **({"dry_run": True} if name in dry_run else {}),
            }
            for name, measurement in report.measurements.items()
        },
        "hosts": {
            host.host: {
                "available": host.error is None,
                **({"reason": host.error} if host.error else {}),
                "kpis": {name: _measurement(m) for name, m in host.measurements.items()},
            }
            for host in report.hosts
        },
    }
    return json.dumps(document, indent=2, sort_keys=True)
