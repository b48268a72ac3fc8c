"""Charts for the insights page as plain SVG drawn on the server: no script, and each one says what it shows in
its title and description (the table beside it holds the same figures)."""

from django import template
from django.utils.formats import number_format

register = template.Library()

BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH = 16, 8, 180, 240
LINE_WIDTH, LINE_HEIGHT = 420, 160
# Told apart by dash as well as colour, so the lines read in grey too.
LINE_STYLES = [
    ("#0b5cad", ""),
    ("#a4161a", "6 3"),
    ("#1e7b34", "2 3"),
    ("#6f42c1", "8 3 2 3"),
    ("#4a5560", "1 2"),
]


def _percent(value) -> str:
    return "\u2013" if value is None else f"{number_format(value, 1)} %"


@register.inclusion_tag("support/partials/bar_chart.html")
def bar_chart(shares, chart_id: str, title: str):
    bars = []
    for index, share in enumerate(shares):
        y = index * (BAR_HEIGHT + GAP)
        width = round(BAR_WIDTH * (share.percent or 0) / 100, 1)
        bars.append(
            {
                "label": share.label,
                "y": y,
                "text_y": y + BAR_HEIGHT - 3,
                # As strings: the template would write a float in the page's locale (12,5 in German).
                "width": str(width),
                "end": str(LABEL_WIDTH + width + 6),
                "percent": _percent(share.percent),
            }
        )
    return {
        "id": chart_id,
        "title": title,
        "description": "; ".join(f"{bar['label']}: {bar['percent']}" for bar in bars),
        "bars": bars,
        "bar_height": BAR_HEIGHT,
        "label_width": LABEL_WIDTH,
        "width": LABEL_WIDTH + BAR_WIDTH + 70,
        "height": max(len(bars) * (BAR_HEIGHT + GAP), BAR_HEIGHT),
    }


@register.inclusion_tag("support/partials/line_chart.html")
def line_chart(weekly, chart_id: str, title: str):
    """One line per headline share over the weeks (``weekly``: [(week, [Share, ...]), ...])."""
    weeks = [week for week, _ in weekly]
    series: dict[str, list] = {}
    for _, shares in weekly:
        for share in shares:
            series.setdefault(share.label, [])
    for _, shares in weekly:
        found = {share.label: share.percent for share in shares}
        for label, values in series.items():
            values.append(found.get(label))
    step = LINE_WIDTH / max(len(weeks) - 1, 1)
    lines = []
    for index, (label, values) in enumerate(series.items()):
        colour, dash = LINE_STYLES[index % len(LINE_STYLES)]
        points = " ".join(
            f"{round(i * step, 1)},{round(LINE_HEIGHT - LINE_HEIGHT * value / 100, 1)}"
            for i, value in enumerate(values)
            if value is not None
        )
        lines.append({"label": label, "points": points, "colour": colour, "dash": dash, "last": values[-1]})
    return {
        "id": chart_id,
        "title": title,
        "description": "; ".join(f"{line['label']}: {_percent(line['last'])}" for line in lines),
        "lines": lines,
        "width": LINE_WIDTH,
        "height": LINE_HEIGHT,
        "weeks": weeks,
    }


register.filter("percent", _percent)
