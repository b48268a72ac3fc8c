"""Times in the staff console: readable in the agent's own time zone, the exact value on hover (and in print).

The zone is the browser's, which ``static/js/support.js`` keeps in the ``agent_tz`` cookie; without it (the very
first page, or no JavaScript) times are shown in ``settings.TIME_ZONE``. The zone is always named, so a time is
never ambiguous, and ``datetime`` holds the exact UTC instant.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.conf import settings
from django.utils import dateformat
from django.utils.html import format_html

register = template.Library()
COOKIE = "agent_tz"


def agent_zone(request) -> ZoneInfo:
    try:
        return ZoneInfo(request.COOKIES.get(COOKIE, "") or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


@register.simple_tag(takes_context=True)
def agent_time(context, value, precision="minutes"):
    """``value`` is an aware datetime or an ISO 8601 string (as the selectors' exports hold them)."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    zone = agent_zone(context["request"])
    local = value.astimezone(zone)
    shown = dateformat.format(local, "j M Y, H:i:s T" if precision == "seconds" else "j M Y, H:i T")
    exact = f"{local.isoformat(timespec='microseconds')} ({zone.key})"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.astimezone(UTC).isoformat(), exact, shown
    )
