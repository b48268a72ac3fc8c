"""django-allauth for customers: sign in with a code sent by email, never a password, never a signup form.

A customer record is created by the brand, not by visitors; the first time a known customer asks for a code
we create their (passwordless) account and link it. The answer is the same whether the address is known or
not (``ACCOUNT_PREVENT_ENUMERATION``; no mail at all goes to an unknown address), and requests are rate limited
per address and per IP.

The code goes to the customer whose address it is, and signs in their own login account, whatever other account
an allauth email row may name (customers have no email management: ``config/urls.py`` mounts only the code
pages). A code login binds the session to the customer's link key as a signed link does (``access``).
"""

from urllib.parse import urljoin

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import RequestLoginCodeForm
from allauth.core import context
from django.conf import settings

from apps.customers.models import Customer
from apps.customers.selectors import customer_by_email_or_id
from apps.customers.services import ensure_login_account, remember_session

from .access import hold_customer


class CustomerAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False

    def login(self, request, user):
        super().login(request, user)
        customer = Customer.objects.filter(user=user, erased_at__isnull=True).first()
        if customer is not None:
            hold_customer(request, customer)

    def send_mail(self, template_prefix, email, context):
        """Our emails carry the brand; allauth renders the subject without the request's context processors."""
        brand = settings.BRAND
        logo = urljoin(settings.SITE_URL, brand["logo_url"]) if brand["logo_url"] else ""
        return super().send_mail(template_prefix, email, {**context, "brand": brand, "brand_logo_src": logo})


class RequestCustomerCodeForm(RequestLoginCodeForm):
    def clean_email(self) -> str:
        email = super().clean_email()  # allauth's rate limits per address and per IP come first
        customer = customer_by_email_or_id(email) if email else None
        self._user = ensure_login_account(customer=customer) if customer else None
        if customer is not None:
            # The session now holds the address (allauth's pending login): erasure must be able to end it.
            remember_session(customer=customer, session=context.request.session)
        return email
