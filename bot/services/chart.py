"""The tally as a PNG chart (matplotlib, Agg backend: no display needed).

A commune: one horizontal bar per village, stacked by service, the total at the end.
A village: households per service over the days, weeks or months of the period.
Labels use DejaVu Sans (shipped with matplotlib), which has every Vietnamese letter.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.tally import Tally, bucket_label, bucketed, buckets, number, period_label
from storage.models import DayTotal

# One colour per service, in catalogue order (colour-blind friendly "tab10" picks).
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
FONT = {"font.family": "DejaVu Sans", "font.size": 11}
WIDTH_INCHES = 7.0
DPI = 150


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


def render_chart(tally: Tally, days: list[DayTotal], content: Content) -> bytes:
    labels = [content.catalogue.get(code).short for code in tally.services]  # type: ignore[union-attr]
    period = plain_text(period_label(content.texts, tally.period))
    title = _t(content, "chart.title", unit=tally.scope.name, period=period)
    with matplotlib.rc_context(FONT):
        if tally.scope.kind == "village":
            figure = _over_time(tally, days, content, labels)
        else:
            figure = _per_village(tally, labels, content)
        figure.suptitle(title, fontsize=13, fontweight="bold")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _per_village(tally: Tally, labels: list[str], content: Content) -> Figure:
    villages = list(reversed(tally.villages))  # first village on top
    figure = Figure(figsize=(WIDTH_INCHES, 1.8 + 0.5 * len(villages)))
    axes = figure.subplots()
    names = [v.unit.name for v in villages]
    left = [0] * len(villages)
    for index, code in enumerate(tally.services):
        values = [v.current.get(code, 0) for v in villages]
        if not any(values):
            continue  # no bar, no legend entry: the legend lists only what is drawn
        axes.barh(names, values, left=left, color=COLOURS[index % len(COLOURS)], label=labels[index])
        left = [a + b for a, b in zip(left, values, strict=True)]
    for position, total in enumerate(left):
        axes.text(total, position, f" {number(total)}", va="center", fontsize=10)
    axes.set_xlabel(_t(content, "chart.axis_households"))
    axes.set_xlim(0, max([*left, 1]) * 1.15)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / max(len(villages), 1)), ncol=3,
                frameon=False, fontsize=10)
    return figure


def _over_time(tally: Tally, days: list[DayTotal], content: Content, labels: list[str]) -> Figure:
    parts = buckets(tally.period)
    by_bucket = bucketed(days, parts)
    village = tally.villages[0].unit.id
    ticks = [plain_text(bucket_label(content.texts, p)) for p in parts]
    figure = Figure(figsize=(WIDTH_INCHES, 5.0))
    axes = figure.subplots()
    bottom = [0] * len(parts)
    for index, code in enumerate(tally.services):
        values = [by_bucket.get((village, code, i), 0) for i in range(len(parts))]
        if not any(values):
            continue
        axes.bar(ticks, values, bottom=bottom, color=COLOURS[index % len(COLOURS)], label=labels[index])
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    for position, total in enumerate(bottom):
        if total:
            axes.text(position, total, number(total), ha="center", va="bottom", fontsize=10)
    axes.set_ylabel(_t(content, "chart.axis_households"))
    axes.set_ylim(0, max([*bottom, 1]) * 1.15)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", rotation=45 if len(parts) > 6 else 0)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False, fontsize=10)
    return figure
