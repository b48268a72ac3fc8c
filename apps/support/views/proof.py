from django.http import JsonResponse
from django.shortcuts import render

from ..access import customer_page
from ..models import StaffAccess
from ..selectors import consent_proof


@customer_page("export_proof", StaffAccess.What.PROOF, recent=True)
def proof_json(request, customer):
    purpose = request.GET.get("purpose", "")
    response = JsonResponse(consent_proof(customer, purpose=purpose), json_dumps_params={"indent": 2})
    name = f"consent-proof-{customer.pk}{'-' + purpose.replace(':', '-') if purpose else ''}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@customer_page("export_proof", StaffAccess.What.PROOF, recent=True)
def proof_print(request, customer):
    purpose = request.GET.get("purpose", "")
    return render(
        request,
        "support/proof.html",
        {"customer": customer, "proof": consent_proof(customer, purpose=purpose), "purpose": purpose},
    )
