"""Data-subject requests: access (everything held, one JSON download) and erasure."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ..access import customer_page
from ..forms import EraseForm
from ..models import StaffAccess
from ..selectors import everything_held
from ..services import fulfil_erasure_request, record_refused_change


@customer_page("run_data_subject_requests", StaffAccess.What.ACCESS_EXPORT, recent=True)
def access_export(request, customer):
    response = JsonResponse(everything_held(customer), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="data-subject-access-{customer.pk}.json"'
    return response


@customer_page(
    "run_data_subject_requests", {"GET": StaffAccess.What.GLANCE}, methods=("GET", "POST"), recent=True
)
def erase(request, customer):
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            fulfil_erasure_request(
                staff=request.user,
                customer=customer,
                how_asked=form.cleaned_data["how_asked"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, f"Customer {customer.external_id} was erased.")
            return redirect(reverse("support:customer", args=[customer.pk]))
    if request.method == "POST":  # a post that gets here was refused
        record_refused_change(staff=request.user, customer=customer, detail=" ".join(sorted(form.errors)))
    return render(
        request,
        "support/erase.html",
        {"customer": customer, "form": form},
        status=400 if form.errors else 200,
    )
