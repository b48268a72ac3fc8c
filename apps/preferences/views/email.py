"""Double opt-in: the link in the confirmation email. GET shows a button; only the POST confirms.

Mail scanners open links on their own, so a GET never changes anything; the click on the button is the
customer's confirmation, recorded with source ``email_link``.
"""

from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from apps.customers.links import CONFIRM_EMAIL, BadLink, read_token
from apps.customers.selectors import masked_email

from .. import services
from ..access import language_for, visit_for


@require_http_methods(["GET", "POST"])
def confirm_email(request, token):
    try:
        customer = read_token(token, CONFIRM_EMAIL)
    except BadLink as problem:
        translation.activate(language_for(request, None))
        return render(request, "preferences/link_invalid.html", {"problem": str(problem)}, status=400)
    language = language_for(request, customer)
    translation.activate(language)
    context = {"email": masked_email(customer.email), "outcome": None}
    if request.method == "POST":
        context["outcome"] = services.confirm_email(visit=visit_for(request, customer, language))
    return render(request, "preferences/confirm_email.html", context)
