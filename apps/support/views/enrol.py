"""A new staff member's first authenticator, enrolled only through their single-use invitation link.

The link alone is not enough (whoever reads it must also know the password: the page is for the invited account,
signed in), and the password alone is not either: allauth's own setup page refuses every enrolment
(``InvitationOnlyTOTPForm``).
"""

import base64

from allauth.account.internal.flows.reauthentication import raise_if_reauthentication_required
from allauth.mfa.adapter import get_adapter
from allauth.mfa.totp.forms import ActivateTOTPForm
from allauth.mfa.totp.internal import flows
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from ..access import send_to
from ..services import open_invite, use_invite


class InvitationOnlyTOTPForm(ActivateTOTPForm):
    """allauth's setup page (``MFA_FORMS["activate_totp"]``): never enrols; the invitation page does."""

    def clean_code(self) -> str:
        raise ValidationError("Authenticators are set up only through a staff invitation link.")


@require_http_methods(["GET", "POST"])
def enrol(request, token: str):
    invite = open_invite(token=token)
    if invite is None:
        return render(request, "support/enrol.html", {"gone": True}, status=410)
    if not request.user.is_authenticated:
        return send_to("support:sign_in", request)
    if request.user.pk != invite.staff_id:
        return render(request, "support/enrol.html", {"gone": True}, status=410)
    # allauth's own rule for adding an authenticator (the password proved again within minutes), checked before
    # the key is shown so that a prompt never makes the member scan a second key.
    raise_if_reauthentication_required(request, app="allauth.mfa")
    form = ActivateTOTPForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if not use_invite(invite=invite):
                return render(request, "support/enrol.html", {"gone": True}, status=410)
            flows.activate_totp(request, form)
        # The console now asks for a code from the new authenticator: proof that it works.
        return redirect(reverse("support:search"))
    adapter = get_adapter()
    totp_url = adapter.build_totp_url(request.user, form.secret)
    svg = base64.b64encode(adapter.build_totp_svg(totp_url).encode()).decode()
    context = {"form": form, "totp_svg_data_uri": f"data:image/svg+xml;base64,{svg}"}
    return render(request, "support/enrol.html", context, status=400 if form.errors else 200)
