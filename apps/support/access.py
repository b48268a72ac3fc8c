"""Who may open a staff page: the one gate every support view passes through.

A page opens only for a staff account (``is_staff``) that
1. has a TOTP authenticator (otherwise it is sent to allauth's setup page first),
2. proved in this session both a password and the second factor (a customer's login code, a signed link or a
   staff session that skipped either step never opens a staff page), and
3. holds the page's permission (from its role group).
Customer pages record who opened them in the staff access log (``services.record_staff_access``).
"""

from functools import wraps
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.customers.models import Customer

from .services import record_staff_access

REQUIRED_METHODS = frozenset({"password", "mfa"})


def _to(url_name: str, request):
    return redirect(f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}")


def staff_gate(request, permission: str):
    """A redirect or ``PermissionDenied`` when the request may not open the page; ``None`` when it may."""
    user = request.user
    if not user.is_authenticated:
        return _to("support:sign_in", request)
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("Staff pages are for staff accounts.")
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        return _to("mfa_activate_totp", request)
    proved = {record.get("method") for record in get_authentication_records(request, user)}
    if "password" not in proved:
        return _to("account_reauthenticate", request)
    if "mfa" not in proved:
        return _to("mfa_reauthenticate", request)
    if not user.has_perm(f"support.{permission}"):
        raise PermissionDenied("Your role does not include this page.")
    return None


def staff_page(permission: str, methods=("GET",)):
    """A staff page that needs ``permission`` and answers only ``methods`` (405 otherwise)."""

    def decorate(view):
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            return staff_gate(request, permission) or view(request, *args, **kwargs)

        return wrapper

    return decorate


def customer_page(permission: str, what, methods=("GET",)):
    """A staff page about one customer: passes the customer in and logs that this staff member opened it.

    ``what`` is the access log's entry, or a dict of them by HTTP method (a method left out is logged by the
    service the view calls, e.g. the recorded change itself).
    """

    def decorate(view):
        @staff_page(permission, methods)
        @wraps(view)
        def wrapper(request, customer_id: int, *args, **kwargs):
            customer = get_object_or_404(Customer, pk=customer_id)
            logged = what.get(request.method) if isinstance(what, dict) else what
            if logged:
                record_staff_access(
                    staff=request.user, customer=customer, what=logged, detail=_detail(request)
                )
            return view(request, customer, *args, **kwargs)

        return wrapper

    return decorate


def _detail(request) -> str:
    """What exactly was opened: the filters (purpose, source) in the query string, never personal data."""
    keys = ("purpose", "source", "format")
    return " ".join(f"{key}={request.GET[key]}" for key in keys if request.GET.get(key))[:200]
