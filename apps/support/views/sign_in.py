"""Staff sign in here with email and password; allauth then asks for the TOTP code (its MFA login stage).

Customers sign in by code on allauth's own pages, which may be set up without a password field at all; this form
always asks for the password and hands over to allauth's password login, so both can share one allauth.
"""

from allauth.account.forms import LoginForm
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods


class StaffSignInForm(LoginForm):
    def _setup_password_field(self) -> None:
        """Keep the password field whatever the customers' sign-up fields say."""


@require_http_methods(["GET", "POST"])
def sign_in(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    form = StaffSignInForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        return form.login(request, redirect_url=next_url or reverse("support:search"))
    return render(
        request, "support/sign_in.html", {"form": form, "next": next_url}, status=400 if form.errors else 200
    )
