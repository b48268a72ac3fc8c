from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from apps.customers.models import HeldMessage

from ..access import staff_page
from ..models import StaffAccess
from ..selectors import review_queue
from ..services import decide_held_message, record_customers_shown


@staff_page("record_change_on_behalf")
def queue(request):
    queue = review_queue()
    # Held texts are the customers' own words: each customer shown gets a row in the access log.
    record_customers_shown(
        staff=request.user,
        what=StaffAccess.What.REVIEW_QUEUE,
        customer_ids=[message.customer_id for message in queue.messages]
        + [item.report.customer_id for item in queue.overdue if item.report.customer_id],
    )
    return render(request, "support/review.html", {"queue": queue})


@staff_page("record_change_on_behalf", methods=("POST",))
def decide(request, message_id: int):
    message = get_object_or_404(HeldMessage, pk=message_id)
    try:
        recorded = decide_held_message(
            staff=request.user, message=message, decision=request.POST.get("decision", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        changed = len(recorded.events) if recorded else 0
        messages.success(
            request, f"Decided for {message.customer.external_id}: {changed} change(s) recorded."
        )
    return redirect("support:review")
