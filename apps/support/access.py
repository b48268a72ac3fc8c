"""Who may open a staff page: the one gate every support view passes through.

A page opens only for a staff account (``is_staff``) that
1. has a TOTP authenticator (otherwise it is sent to allauth's setup page first),
2. proved in this session both a password and the second factor (a customer's login code, a signed link or a
   staff session that skipped either step never opens a staff page), and
3. holds the page's permission (from its role group).
Customer pages record who opened them in the staff access log (``services.record_staff_access``).

A staff session ends ``STAFF_SESSION_MAX_AGE`` seconds after sign-in whatever happens, and after
``STAFF_SESSION_IDLE_TIMEOUT`` seconds without a staff page; pages marked ``recent`` (erasure, exports) want the
password and the code proved again within ``STAFF_REAUTHENTICATION_TIMEOUT``. The Django admin passes the same
gate (``apps.support.admin_site``).
"""

import time
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.customers.models import Customer

from .services import record_staff_access

SEEN_AT = "staff_seen_at"


def send_to(url_name: str, request):
    return redirect(f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}")


def staff_gate(request, permission: str | None = None, *, recent: bool = False):
    """A redirect or ``PermissionDenied`` when the request may not open the page; ``None`` when it may.

    ``permission`` is a support permission the page needs (the admin checks its own model permissions);
    ``recent`` asks for a password and a code proved within ``STAFF_REAUTHENTICATION_TIMEOUT``.
    """
    user = request.user
    if not user.is_authenticated:
        return send_to("support:sign_in", request)
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("Staff pages are for staff accounts.")
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        # The first authenticator is enrolled only through an invitation link (views/enrol.py).
        raise PermissionDenied("This staff account has no authenticator yet: ask for an enrolment link.")
    now = time.time()
    records = get_authentication_records(request, user)
    if _session_over(request, records, now):
        logout(request)
        return send_to("support:sign_in", request)
    proved_at: dict[str, Any] = {}
    for record in records:
        proved_at[record.get("method")] = max(proved_at.get(record.get("method"), 0), record.get("at", 0))
    window = settings.STAFF_REAUTHENTICATION_TIMEOUT if recent else None
    if "password" not in proved_at or (window and now - proved_at["password"] > window):
        return send_to("account_reauthenticate", request)
    if "mfa" not in proved_at or (window and now - proved_at["mfa"] > window):
        return send_to("mfa_reauthenticate", request)
    if permission and not user.has_perm(f"support.{permission}"):
        raise PermissionDenied("Your role does not include this page.")
    request.session[SEEN_AT] = now
    # The session store forgets an idle session too, so a stolen cookie dies with it.
    request.session.set_expiry(settings.STAFF_SESSION_IDLE_TIMEOUT)
    return None


def _session_over(request, records, now: float) -> bool:
    """Past the absolute lifetime (counted from the session's first sign-in step) or idle for too long."""
    signed_in_at = min((record.get("at", 0) for record in records), default=now)
    seen_at = request.session.get(SEEN_AT, now)
    return (
        now - signed_in_at > settings.STAFF_SESSION_MAX_AGE
        or now - seen_at > settings.STAFF_SESSION_IDLE_TIMEOUT
    )


def staff_page(permission: str, methods=("GET",), *, recent: bool = False):
    """A staff page that needs ``permission`` and answers only ``methods`` (405 otherwise)."""

    def decorate(view):
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            return staff_gate(request, permission, recent=recent) or view(request, *args, **kwargs)

        return wrapper

    return decorate


def customer_page(permission: str, what, methods=("GET",), *, recent: bool = False):
    """A staff page about one customer: passes the customer in and logs that this staff member opened it.

    ``what`` is the access log's entry, or a dict of them by HTTP method (a method left out is logged by the
    service the view calls, e.g. the recorded change itself).
    """

    def decorate(view):
        @staff_page(permission, methods, recent=recent)
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
