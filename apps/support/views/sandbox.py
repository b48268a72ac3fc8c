"""The demo's sandbox receiver, as staff see it: what the signed webhooks carried, customers' addresses included.

The receiver itself (``delivery:sandbox_receive``) stays with delivery; this page passes the staff gate, and
production settings switch the sandbox off altogether.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from apps.delivery.models import Destination
from apps.delivery.selectors import sandbox_arrivals

from ..access import staff_page


@staff_page("view_customer_data")
def sandbox(request, name="sandbox"):
    if not settings.DELIVERY_SANDBOX:
        raise Http404("The sandbox is off (DELIVERY_SANDBOX).")
    destination = get_object_or_404(Destination, name=name, kind=Destination.Kind.WEBHOOK)
    template = "support/sandbox.html#arrivals" if request.htmx else "support/sandbox.html"
    return render(request, template, {"destination": destination, "arrivals": sandbox_arrivals(destination)})
