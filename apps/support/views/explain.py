from datetime import UTC, datetime

from django.shortcuts import render
from django.utils import timezone

from apps.catalog.selectors import catalog_rules
from apps.consent.selectors import explain_decision

from ..access import customer_page
from ..models import StaffAccess


@customer_page("view_customer_data", StaffAccess.What.EXPLAIN)
def explain(request, customer):
    """ "May we send this?" for one channel, topic and instant, and why: the API's explain, for staff."""
    rules = catalog_rules()
    channel, topic = request.GET.get("channel", ""), request.GET.get("topic", "")
    at, error = timezone.now(), ""
    if request.GET.get("at"):
        try:
            at = datetime.fromisoformat(request.GET["at"]).replace(tzinfo=UTC)
        except ValueError:
            error = "Give the time as YYYY-MM-DDTHH:MM (UTC)."
    explanation = None
    if channel in rules.channels and topic in rules.topics and not error:
        explanation = explain_decision(customer, channel=channel, topic=topic, at=at)
    elif channel or topic:
        error = error or "Choose a channel and a topic from the lists."
    context = {
        "customer": customer,
        "channels": rules.channels,
        "topics": list(rules.topics),
        "channel": channel,
        "topic": topic,
        "at": at,
        "error": error,
        "explanation": explanation,
    }
    return render(request, "support/explain.html", context, status=400 if error else 200)
