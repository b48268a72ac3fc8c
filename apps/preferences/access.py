"""Who is on the page: a customer who arrived by signed link (kept in the session) or signed in with a code.

Either way the session holds the customer's id and their link key at the time, so rotating the key (``customer_link
--revoke``, erasure) ends sessions opened by old links and code logins alike. Nothing else identifies the customer:
no id travels in any form, and a login account alone opens no page.
"""

from functools import wraps

from allauth.account.adapter import get_adapter
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils import translation

from apps.customers.models import Customer
from apps.customers.services import remember_session

from .services import Visit

SESSION_KEY = "preferences_customer"
LANGUAGE_KEY = "preferences_language"


def open_session(request, customer: Customer) -> None:
    request.session.cycle_key()  # a fresh session id for the new identity: no fixation
    hold_customer(request, customer)


def hold_customer(request, customer: Customer) -> None:
    """Bind the session to the customer and their current link key, and note it so erasure can end it."""
    request.session[SESSION_KEY] = {"id": customer.pk, "key": customer.link_key}
    remember_session(customer=customer, session=request.session)


def close_session(request) -> None:
    request.session.pop(SESSION_KEY, None)


def current_customer(request) -> Customer | None:
    held = request.session.get(SESSION_KEY)
    if not held:
        return None
    customer = Customer.objects.filter(pk=held["id"], erased_at__isnull=True).first()
    if customer and customer.link_key == held["key"]:
        return customer
    logout(request)  # revoked or erased: the whole session ends, a code login with it
    return None


def language_for(request, customer: Customer | None) -> str:
    chosen = request.session.get(LANGUAGE_KEY)
    if chosen in ("en", "de"):
        return chosen
    if customer is not None:
        return customer.locale
    return translation.get_language_from_request(request)


def client_ip(request) -> str | None:
    """The address allauth's rate limits count too: behind TRUSTED_PROXY_COUNT proxies, taken from
    X-Forwarded-For; otherwise REMOTE_ADDR."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no address to be had: the visit's evidence simply has none
        return None


def visit_for(request, customer: Customer, language: str) -> Visit:
    return Visit(
        customer=customer,
        language=language,
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:500] or None,
        via="htmx" if request.htmx else "form",
    )


def customer_required(view):
    """Sets ``request.customer``, ``request.visit`` and the customer's language, or sends them to sign in."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        customer = current_customer(request)
        if customer is None:
            return redirect("preferences:start")
        language = language_for(request, customer)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        request.customer = customer
        request.visit = visit_for(request, customer, language)
        return view(request, *args, **kwargs)

    return wrapper
