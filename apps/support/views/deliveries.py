from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.vary import vary_on_headers

from ..access import customer_page
from ..models import StaffAccess
from ..selectors import customer_deliveries
from ..services import record_refused_change, retry_delivery
from .fragments import partial_answer


@customer_page("view_customer_data", StaffAccess.What.DELIVERIES)
@vary_on_headers("HX-Request")
def deliveries(request, customer):
    template = "support/deliveries.html#panel" if partial_answer(request) else "support/deliveries.html"
    return render(request, template, {"customer": customer, "panel": customer_deliveries(customer)})


@customer_page("retry_delivery", {}, methods=("POST",))
def retry(request, customer, delivery_id: int):
    if retry_delivery(staff=request.user, customer=customer, delivery_id=delivery_id):
        messages.success(request, f"Delivery {delivery_id} is queued again; it is sent within seconds.")
    else:
        record_refused_change(staff=request.user, customer=customer, detail=f"delivery={delivery_id}")
        messages.error(request, f"Delivery {delivery_id} is not a dead delivery of this customer.")
    return redirect(reverse("support:deliveries", args=[customer.pk]))
