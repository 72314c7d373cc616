"""Daily revenue and profit per reseller as a PNG (matplotlib's Figure without pyplot: no backend to
choose, no display needed, no global figure state)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

from pipeline.reports.run import Table


def plot_daily(table: Table, out: Path, title: str) -> Path:
    """`table` is queries.daily_by_reseller's result. Floats only here, for drawing: the exact
    figures are in the text reports."""
    revenue: dict[str, dict] = defaultdict(dict)
    reseller_profit: dict[str, dict] = defaultdict(dict)
    admin_profit: dict[str, dict] = defaultdict(dict)
    for record in table.dicts():
        series = f"{record['reseller'] or '(direct)'} {record['currency']}"
        revenue[series][record["day"]] = float(record["revenue"])
        reseller_profit[series][record["day"]] = float(record["reseller_profit_total"])
        admin_profit[series][record["day"]] = float(record["admin_profit_total"])

    figure = Figure(figsize=(11, 7))
    top, bottom = figure.subplots(2, 1, sharex=True)
    for position, series in enumerate(sorted(revenue)):
        color = f"C{position % 10}"
        days = sorted(revenue[series])
        top.plot(days, [revenue[series][d] for d in days], marker="o", color=color, label=series)
        bottom.plot(days, [reseller_profit[series][d] for d in days], marker="o", color=color,
                    label=f"{series} reseller profit")
        bottom.plot(days, [admin_profit[series][d] for d in days], marker="x", linestyle="--",
                    color=color, label=f"{series} admin profit")
    top.set_title(title)
    top.set_ylabel("revenue (user price)")
    bottom.set_ylabel("profit")
    bottom.set_xlabel("day (UTC)")
    for axes in (top, bottom):
        axes.grid(True, alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    out = Path(out)
    figure.savefig(out, format="png", dpi=100)
    return out
