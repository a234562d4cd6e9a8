"""The tally as a PNG chart (matplotlib, Agg backend: no display needed).

A commune: one horizontal bar per village, stacked by service, the total at the end; a village
that reported "không có" is marked differently from one that has not reported at all.
A village: its figures per service over the days, weeks or months of the period, each bar
labelled with the dates it covers. Where a target is set, a second panel shows the year's
progress per service against it. Axes count in whole numbers. Labels use DejaVu Sans (shipped
with matplotlib), which has every Vietnamese letter.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.tally import Coverage, Tally, bucket_label, bucketed, buckets, long_day, number, period_label
from bot.services.export_report import unit_of
from storage.models import DayTotal

# One colour per service, in catalogue order (colour-blind friendly "tab10" picks).
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
SILENT_COLOUR, ZERO_COLOUR, TARGET_COLOUR = "#b0b0b0", "#2b2b2b", "#c0392b"
FONT = {"font.family": "DejaVu Sans", "font.size": 11}
WIDTH_INCHES = 7.0
DPI = 150


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


def render_chart(tally: Tally, days: list[DayTotal], content: Content) -> bytes:
    with matplotlib.rc_context(FONT):
        figure = build_figure(tally, days, content)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def build_figure(tally: Tally, days: list[DayTotal], content: Content) -> Figure:
    """The chart as a matplotlib figure (what :func:`render_chart` draws): one panel per kind of
    count (households, people, sessions: never stacked together), then the year's progress."""
    labels = {code: content.catalogue.get(code).short for code in tally.services}  # type: ignore[union-attr]
    period = plain_text(period_label(content.texts, tally.period))
    coverage = [c for c in (tally.coverage(code) for code in tally.services) if c is not None]
    groups = _by_unit(tally, content)
    one = 1.8 + 0.5 * len(tally.villages) if tally.scope.kind != "village" else 4.2
    heights = [one] * len(groups)
    if coverage:
        heights.append(0.9 + 0.45 * len(coverage))
    figure = Figure(figsize=(WIDTH_INCHES, sum(heights) + 0.6 * (len(heights) - 1)))
    panels = figure.subplots(len(heights), 1, height_ratios=heights, squeeze=False)[:, 0]
    for axes, (unit, codes) in zip(panels, groups, strict=False):
        if tally.scope.kind == "village":
            _over_time(axes, tally, days, content, codes, labels, unit)
        else:
            _per_village(axes, tally, codes, labels, content, unit)
    if coverage:
        _coverage(panels[-1], tally, coverage, content)
    figure.suptitle(_t(content, "chart.title", unit=tally.scope.name, period=period), fontsize=13,
                    fontweight="bold")
    figure.subplots_adjust(hspace=0.7)
    return figure


def _by_unit(tally: Tally, content: Content) -> list[tuple[str, list[str]]]:
    """The tally's services by what they count ("hộ", "người", "lượt"), in catalogue order."""
    commune = tally.scope if tally.scope.kind == "commune" else None
    groups: dict[str, tuple[str, list[str]]] = {}
    for code in tally.services:
        kind, name = unit_of(content, code, commune)
        groups.setdefault(kind, (name.lower(), []))[1].append(code)
    return list(groups.values())


def _axis_label(content: Content, tally: Tally, unit: str) -> str:
    return _t(content, "chart.axis", unit=unit, start=long_day(tally.period.start), end=long_day(tally.period.end))


def _colour(tally: Tally, code: str) -> str:
    return COLOURS[tally.services.index(code) % len(COLOURS)]


def _per_village(axes: Axes, tally: Tally, codes: list[str], labels: dict[str, str], content: Content,
                 unit: str) -> None:
    villages = list(reversed(tally.villages))  # first village on top
    names = [v.unit.name for v in villages]
    positions = list(range(len(villages)))
    left = [0] * len(villages)
    for code in codes:
        values = [v.current.get(code, 0) for v in villages]
        if not any(values):
            continue  # no bar, no legend entry: the legend lists only what is drawn
        axes.barh(positions, values, left=left, color=_colour(tally, code), label=labels[code])
        left = [a + b for a, b in zip(left, values, strict=True)]
    top = max([*left, 1])
    handles = []
    for position, (village, total) in enumerate(zip(villages, left, strict=True)):
        if not village.reported:  # silence: a grey cross and the words, never a bar of zero
            axes.plot([0], [position], marker="x", color=SILENT_COLOUR, markersize=9, linestyle="none")
            axes.text(top * 0.03, position, _t(content, "chart.silent_mark"), va="center", fontsize=9,
                      color=SILENT_COLOUR, style="italic")
        elif not any(village.current.values()):  # an explicit "không có": a hollow circle on zero
            axes.plot([0], [position], marker="o", markerfacecolor="white", markeredgecolor=ZERO_COLOUR,
                      markersize=9, linestyle="none")
            axes.text(top * 0.03, position, _t(content, "chart.zero_mark"), va="center", fontsize=9,
                      color=ZERO_COLOUR)
        else:
            axes.text(total, position, f" {number(total)}", va="center", fontsize=10)
    axes.set_yticks(positions, names)
    axes.set_ylim(-0.6, len(villages) - 0.4)
    for tick, village in zip(axes.get_yticklabels(), villages, strict=True):
        if not village.reported:
            tick.set_color(SILENT_COLOUR)
    if any(v.reported and not any(v.current.values()) for v in villages):
        handles.append(Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor=ZERO_COLOUR,
                              linestyle="none", markersize=9, label=_t(content, "chart.legend_zero")))
    if any(not v.reported for v in villages):
        handles.append(Line2D([], [], marker="x", color=SILENT_COLOUR, linestyle="none", markersize=9,
                              label=_t(content, "chart.legend_silent")))
    axes.set_xlabel(_axis_label(content, tally, unit))
    axes.set_xlim(0, top * 1.15)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    drawn, names_drawn = axes.get_legend_handles_labels()
    axes.legend([*drawn, *handles], [*names_drawn, *[h.get_label() for h in handles]], loc="lower center",
                bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=9)


def _over_time(axes: Axes, tally: Tally, days: list[DayTotal], content: Content, codes: list[str],
               labels: dict[str, str], unit: str) -> None:
    parts = buckets(tally.period)
    by_bucket = bucketed(days, parts)
    village = tally.villages[0].unit.id
    ticks = [plain_text(bucket_label(content.texts, p)) for p in parts]
    bottom = [0] * len(parts)
    positions = list(range(len(parts)))
    for code in codes:
        values = [by_bucket.get((village, code, i), 0) for i in range(len(parts))]
        if not any(values):
            continue
        axes.bar(positions, values, bottom=bottom, color=_colour(tally, code), label=labels[code])
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    for position, total in enumerate(bottom):
        if total:
            axes.text(position, total, number(total), ha="center", va="bottom", fontsize=10)
    axes.set_xticks(positions, ticks)
    axes.set_ylabel(_axis_label(content, tally, unit))
    axes.set_ylim(0, max([*bottom, 1]) * 1.15)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", rotation=45 if len(parts) > 4 else 0, labelsize=9)
    only = tally.villages[0]
    if not only.reported:
        axes.text(0.5, 0.5, _t(content, "chart.legend_silent"), transform=axes.transAxes, ha="center",
                  color=SILENT_COLOUR, style="italic")
    elif not any(only.current.values()):
        axes.text(0.5, 0.5, _t(content, "chart.legend_zero"), transform=axes.transAxes, ha="center",
                  color=ZERO_COLOUR)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=9)


def _coverage(axes: Axes, tally: Tally, coverage: list[Coverage], content: Content) -> None:
    """The year's progress per service: the share of the target reached, the target's line at 100%."""
    items = list(reversed(coverage))
    names = [content.catalogue.get(c.service).short for c in items]  # type: ignore[union-attr]
    percents = [c.percent_of_target for c in items]
    colours = [_colour(tally, c.service) for c in items]
    axes.barh(names, percents, color=colours)
    for position, item in enumerate(items):
        axes.text(min(item.percent_of_target, 100) + 1, position,
                  _t(content, "chart.coverage_mark", helped=number(item.helped), target=number(item.target),
                     percent=item.percent_of_target), va="center", fontsize=9)
    axes.axvline(100, color=TARGET_COLOUR, linestyle="--", linewidth=1.2)
    axes.set_xlim(0, max(100, *percents) * 1.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[2.5, 5, 10]))
    axes.set_title(_t(content, "chart.coverage_title", year=tally.period.end.year), fontsize=11, loc="left")
    axes.set_xlabel(_t(content, "chart.coverage_axis"))
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend([Line2D([], [], color=TARGET_COLOUR, linestyle="--")], [_t(content, "chart.legend_target")],
                loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
