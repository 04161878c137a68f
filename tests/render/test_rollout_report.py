"""The success report: a count judged as a count shows the count, not a rate."""

from __future__ import annotations

from datetime import timedelta

from bot.core.kpi_report import KpiReport
from bot.core.thresholds import Judgement, Measurement, Verdict
from bot.render.rollout_report import report_table
from bot.rollout.context import BotContext
from tests.support.spec_data import START


def test_an_absolute_count_target_shows_the_count_it_judged(context: BotContext) -> None:
    measurement = Measurement(3.0, 0.0, hours=6.0, baseline_hours=24.0)
    judgement = Judgement("offset_misses", Verdict.NOT_MET, 3.0, 0.0, None)
    report = KpiReport(
        "prod", START - timedelta(hours=6), START, (), {"offset_misses": measurement},
        (judgement,),
    )  # fmt: skip
    row = next(line for line in report_table(context.spec, report).splitlines() if "Off" in line)
    label, rest = row[:24], row[24:].split()
    assert label.strip() == "Jobs Off Their Offset"
    assert rest[:2] == ["0", "3"], row  # the counts in each window, as `<= 0` judges them
    assert "/h" not in row
