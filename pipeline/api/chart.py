"""The dashboard's 30-day chart as inline SVG, drawn on the server (no JavaScript, no image file).

Bars: revenue per day; line: profit per day. Pure: days and Decimal amounts in, SVG text out;
every text node is escaped.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 30


def daily_chart(days: list[date], revenue: dict[date, Decimal], profit: dict[date, Decimal], currency: str) -> str:
    values = [revenue.get(d, Decimal(0)) for d in days] + [profit.get(d, Decimal(0)) for d in days]
    top = _nice_ceiling(max([v for v in values if v > 0], default=Decimal(1)))
    bottom = min(Decimal(0), min(values, default=Decimal(0)))
    span = top - bottom or Decimal(1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days), 1)

    def y(value: Decimal) -> float:
        return TOP + float((top - value) / span) * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg" '
             f'aria-label="Revenue and profit per day, last {len(days)} days">']
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = bottom + span * Decimal(str(fraction))
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{_short(value)}</text>')
    for n, day in enumerate(days):
        amount = revenue.get(day, Decimal(0))
        x = LEFT + n * step + step * 0.18
        height = max(y(Decimal(0)) - y(amount), 0)
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y(Decimal(0)) - height:.1f}" width="{step * 0.64:.1f}" '
                     f'height="{height:.1f}" rx="2"><title>{escape(day.isoformat())}: revenue '
                     f'{escape(str(amount))} {escape(currency)}</title></rect>')
        if n % 5 == 0 or n == len(days) - 1:
            parts.append(f'<text class="axis" x="{LEFT + n * step + step / 2:.1f}" y="{HEIGHT - 10}" '
                         f'text-anchor="middle">{day.strftime("%d %b")}</text>')
    points = " ".join(f"{LEFT + n * step + step / 2:.1f},{y(profit.get(d, Decimal(0))):.1f}" for n, d in enumerate(days))
    parts.append(f'<polyline class="profit" points="{points}"/>')
    for n, day in enumerate(days):
        amount = profit.get(day, Decimal(0))
        parts.append(f'<circle class="dot" cx="{LEFT + n * step + step / 2:.1f}" cy="{y(amount):.1f}" r="2.5">'
                     f'<title>{escape(day.isoformat())}: profit {escape(str(amount))} {escape(currency)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_ceiling(value: Decimal) -> Decimal:
    """1, 2, 2.5 or 5 times a power of ten, at or above value: round numbers on the axis."""
    exponent = value.adjusted()
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        candidate = Decimal(factor).scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)


def _short(value: Decimal) -> str:
    value = value.normalize()
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.2f}" if value != value.to_integral() else f"{value:.0f}"
