from django.shortcuts import render

from ..access import customer_page
from ..models import StaffAccess
from ..selectors import consent_timeline, timeline_filters


@customer_page("view_customer_data", StaffAccess.What.TIMELINE)
def timeline(request, customer):
    purpose, source = request.GET.get("purpose", ""), request.GET.get("source", "")
    context = {
        "customer": customer,
        "entries": consent_timeline(customer, purpose=purpose, source=source),
        "filters": timeline_filters(customer),
        "purpose": purpose,
        "source": source,
    }
    template = "support/timeline.html#events" if request.htmx else "support/timeline.html"
    return render(request, template, context)
