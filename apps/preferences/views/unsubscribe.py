"""Leaving: RFC 8058 one-click unsubscribe, and "unsubscribe from everything" with doing less offered first."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.customers.links import UNSUBSCRIBE, BadLink, read_token
from apps.customers.selectors import masked_email

from .. import leaving
from ..access import customer_required, language_for, visit_for
from ..selectors import current_notices, leave_overview


@csrf_exempt  # the mail provider posts without a session; the signed token is the authority
@require_http_methods(["GET", "POST"])
def one_click(request, scope, token):
    """POST ``List-Unsubscribe=One-Click`` stops that email at once; a GET only shows the confirmation.

    The token unsubscribes from its one list and does nothing else: it opens no page and mints no other link.
    An erased customer's link still answers (everything was switched off with the erasure).
    """
    try:
        customer = read_token(token, UNSUBSCRIBE, scope)
    except BadLink as problem:
        translation.activate(language_for(request, None))
        return render(request, "preferences/link_invalid.html", {"problem": str(problem)}, status=400)
    language = language_for(request, customer)
    translation.activate(language)
    title = current_notices(language).get(scope)
    context = {
        "scope": scope,
        "title": title.title if title else scope,
        "email": masked_email(customer.email),
    }
    if request.method == "GET":
        context["done"] = customer.erased_at is not None
        return render(request, "preferences/unsubscribe.html", context)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponse("Expected List-Unsubscribe=One-Click.", status=400, content_type="text/plain")
    leaving.one_click_unsubscribe(visit=visit_for(request, customer, language), scope=scope)
    if request.POST.get("from_page"):
        context["done"] = True
        return render(request, "preferences/unsubscribe.html", context)
    return HttpResponse("Unsubscribed.", content_type="text/plain")


@customer_required
@require_http_methods(["GET", "POST"])
def leave(request):
    """Offer less first (monthly, a pause, fewer topics); then switch everything off, with an optional reason."""
    context = {"reasons": leaving.LEAVE_REASONS, "done": None}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action in ("monthly", "pause"):
            leaving.do_less(visit=request.visit, action=action)
            context["done"] = action
        elif action == "everything":
            leaving.unsubscribe_everything(visit=request.visit, reason=request.POST.get("reason", ""))
            context["done"] = "everything"
    context["overview"] = leave_overview(request.customer, request.LANGUAGE_CODE)
    if context["done"] != "everything":
        leaving.note_offers_shown(customer=request.customer)
    return render(request, "preferences/leave.html", context)
