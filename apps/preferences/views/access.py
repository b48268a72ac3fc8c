"""Getting in: the signed link from an email, the sign-in page, leaving, and the language switch."""

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.customers.links import PAGE, BadLink, read_token

from ..access import LANGUAGE_KEY, close_session, current_customer, open_session


@require_GET
def link(request, token):
    """Open the page for the customer the link was signed for; the token leaves the address bar at once."""
    try:
        customer = read_token(token, PAGE)
    except BadLink as problem:
        translation.activate(translation.get_language_from_request(request))
        return render(request, "preferences/link_invalid.html", {"problem": str(problem)}, status=400)
    open_session(request, customer)
    response = redirect("preferences:page")
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def start(request):
    """Where a visitor without a link starts: ask for an email code (django-allauth)."""
    if current_customer(request) is not None:
        return redirect("preferences:page")
    return render(request, "preferences/start.html")


@require_POST
def sign_out(request):
    close_session(request)
    if request.user.is_authenticated:
        logout(request)
    return redirect("preferences:home")


@require_POST
def language(request):
    """Switch the language: kept in the session (over the customer's locale) and in Django's language cookie."""
    chosen = request.POST.get("language")
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=False)
    response = redirect(next_url if safe else "preferences:home")
    if chosen in dict(settings.LANGUAGES):
        request.session[LANGUAGE_KEY] = chosen
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, chosen, samesite="Lax", secure=request.is_secure(), httponly=True
        )
    return response
