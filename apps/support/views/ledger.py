from django.shortcuts import render

from ..access import staff_page
from ..selectors import ledger_check


@staff_page("verify_ledger", methods=("GET", "POST"))
def verify(request):
    result = ledger_check() if request.method == "POST" else None
    return render(request, "support/ledger.html", {"result": result})
