"""The KPI report as JSON for scripts: an unavailable KPI is null with its reason."""

from __future__ import annotations

import json
from typing import Any

from bot.core.clock import isoformat
from bot.core.kpi_report import KpiReport
from bot.core.thresholds import Measurement


def _measurement(measurement: Measurement) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": measurement.value}
    if measurement.reason:
        entry["reason"] = measurement.reason
    return entry


def report_json(report: KpiReport) -> str:
    verdicts = {judgement.kpi: judgement.verdict.value for judgement in report.judgements}
    document = {
        "env": report.env,
        "window": {"start": isoformat(report.start), "end": isoformat(report.end)},
        "kpis": {
            # KPIs without a row in the thresholds table have verdict null.
            name: {**_measurement(measurement), "verdict": verdicts.get(name)}
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
