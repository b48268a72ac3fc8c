"""'Your choices over time': the customer's own ledger, and a consent receipt for any event."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..access import customer_required
from ..receipts import consent_receipt, timeline


@customer_required
@require_GET
def history(request):
    events = timeline(request.customer, request.LANGUAGE_CODE)
    return render(request, "preferences/history.html", {"events": events})


@customer_required
@require_GET
def receipt(request, sequence):
    body = consent_receipt(request.customer, sequence)
    if body is None:
        raise Http404
    response = JsonResponse(body, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'inline; filename="consent-receipt-{sequence}.json"'
    return response
