"""The analysis table: every KPI named in full, with where its value came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.kpi_catalog import MEASURED_KPI_NAMES
from bot.core.kpi_report import KpiReport
from bot.core.thresholds import Measurement
from bot.render.analysis_text import kpi_rows

START = datetime(2026, 2, 1, tzinfo=UTC)


def test_no_kpi_name_is_cut_in_the_analysis_table_even_with_its_source() -> None:
    names = sorted(MEASURED_KPI_NAMES)
    measurements = {name: Measurement(12.0, 10.0, source="log") for name in names}
    report = KpiReport("prod", START, START + timedelta(hours=6), (), measurements, ())
    header, *rows = kpi_rows(report)
    for name, row in zip(names, rows, strict=True):
        assert row.startswith(f"{name} (log) "), row
        assert row.endswith("+20.0%"), row
    assert len({len(row) for row in [header, *rows]}) == 1  # the columns line up
