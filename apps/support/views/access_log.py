from django.shortcuts import render

from ..access import staff_page
from ..selectors import staff_access_page


@staff_page("view_staff_access_log")
def access_log(request):
    before, customer = request.GET.get("before", ""), request.GET.get("customer", "")
    entries, next_before = staff_access_page(
        before=int(before) if before.isdigit() else None,
        customer_id=int(customer) if customer.isdigit() else None,
    )
    return render(
        request,
        "support/access_log.html",
        {"entries": entries, "next_before": next_before, "customer": customer},
    )
