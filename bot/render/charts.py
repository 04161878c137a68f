"""The checkpoint chart as a PNG: pool utilization and concurrent jobs over the phase so
far, the baseline phase drawn against now (or, outside a phase, over the window
measured). Headless."""

from __future__ import annotations

import io

# A bare Figure draws with Agg and needs no display, unlike pyplot's global state.
from matplotlib.figure import Figure

from bot.core.kpi_series import Series


def checkpoint_chart(
    title: str,
    pool: tuple[Series, Series],
    concurrency: tuple[Series, Series],
    *,
    pool_alert: float | None = None,
    x_label: str = "hours since the phase began",
) -> bytes:
    """`pool` and `concurrency` are (now, baseline); a baseline may have no points."""
    figure = Figure(figsize=(8, 5), dpi=80)
    top, bottom = figure.subplots(2, 1, sharex=True)
    for axes, (now, baseline), unit in ((top, pool, "%"), (bottom, concurrency, "jobs")):
        if baseline.hours:
            axes.plot(
                baseline.hours, baseline.values, linestyle="--", color="grey", label=baseline.label
            )
        axes.plot(now.hours, now.values, color="tab:blue", label=now.label)
        axes.set_ylabel(unit)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper right", fontsize="small")
    if pool_alert is not None:
        top.axhline(pool_alert, color="tab:red", linewidth=0.8, label="alert")
    top.set_title(title)
    top.set_ylim(0, 100)
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel(x_label)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
