from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from apps.consent.models import Snapshot

from ..access import customer_page
from ..forms import ChangeForm
from ..models import StaffAccess
from ..services import record_change_on_behalf, record_refused_change


@customer_page("record_change_on_behalf", {"GET": StaffAccess.What.CHANGE_FORM}, methods=("GET", "POST"))
def change(request, customer):
    snapshot = Snapshot.objects.filter(customer=customer).first()
    form = ChangeForm(request.POST or None, customer=customer, current=snapshot.choices if snapshot else {})
    if request.method == "POST" and form.is_valid():
        try:
            recorded = record_change_on_behalf(
                staff=request.user,
                customer=customer,
                choices=form.choices,
                how_asked=form.cleaned_data["how_asked"],
                note=form.cleaned_data["note"],
                captured_at=form.cleaned_data["captured_at"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, f"Recorded {len(recorded.events)} change(s) for {customer.external_id}."
            )
            timeline = reverse("support:timeline", args=[customer.pk])
            return HttpResponseClientRedirect(timeline) if request.htmx else redirect(timeline)
    if request.method == "POST":  # a post that gets here was refused: who tried, and which fields were wrong
        record_refused_change(staff=request.user, customer=customer, detail=" ".join(sorted(form.errors)))
    if request.htmx:  # htmx swaps only 2xx answers in: the form comes back with its errors
        return render(request, "support/change.html#change-form", {"customer": customer, "form": form})
    status = 400 if form.errors else 200
    return render(request, "support/change.html", {"customer": customer, "form": form}, status=status)


def _add_errors(form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, messages_ in error.message_dict.items():
        field = key if key in form.fields else None
        for message in messages_:
            form.add_error(field, message if field else f"{key}: {message}")
