from django.shortcuts import render

from ..access import staff_page
from ..selectors import ledger_check


@staff_page("verify_ledger", methods=("GET", "POST"))
def verify(request):
    """Verify every chain, or one customer's (on a large ledger ``manage.py verify_ledger`` is the tool)."""
    result, customer = None, request.POST.get("customer", "").strip()
    if request.method == "POST":
        result = ledger_check([int(customer)] if customer.isdigit() else None)
    return render(request, "support/ledger.html", {"result": result, "customer": customer})
