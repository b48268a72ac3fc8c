from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from ..access import customer_page
from ..models import StaffAccess
from ..selectors import consent_timeline, timeline_filters
from .fragments import partial_answer


@customer_page("view_customer_data", StaffAccess.What.TIMELINE)
@vary_on_headers("HX-Request")
def timeline(request, customer):
    purpose, source = request.GET.get("purpose", ""), request.GET.get("source", "")
    context = {
        "customer": customer,
        "entries": consent_timeline(customer, purpose=purpose, source=source),
        "filters": timeline_filters(customer),
        "purpose": purpose,
        "source": source,
    }
    template = "support/timeline.html#events" if partial_answer(request) else "support/timeline.html"
    return render(request, template, context)
