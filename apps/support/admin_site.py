"""The Django admin behind the console's gate: no second door.

Its own password-only login page is gone (it sends to the staff sign-in, with its rate limits and the TOTP step),
every admin page passes ``access.staff_gate`` (TOTP enrolled, password and code proved in this session, session
lifetimes), and every page that shows customer data writes one staff-access row per customer shown.
"""

from functools import update_wrapper
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from .access import staff_gate
from .models import StaffAccess
from .selectors import customers_shown
from .services import record_customers_shown


class StaffAdminSite(admin.AdminSite):
    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def gated(request, *args, **kwargs):
            refused = staff_gate(request)
            if refused:
                return refused
            response = inner(request, *args, **kwargs)
            model, customer_ids = customers_shown(getattr(response, "context_data", None))
            if customer_ids:
                record_customers_shown(
                    staff=request.user,
                    what=StaffAccess.What.ADMIN_VIEW,
                    customer_ids=customer_ids,
                    detail=f"{model._meta.label_lower} {request.resolver_match.url_name} {request.method}",
                )
            return response

        return update_wrapper(gated, view)

    def login(self, request, extra_context=None):
        next_url = request.GET.get("next") or reverse("admin:index")
        return HttpResponseRedirect(f"{reverse('support:sign_in')}?{urlencode({'next': next_url})}")
