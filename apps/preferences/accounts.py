"""django-allauth for customers: sign in with a code sent by email, never a password, never a signup form.

A customer record is created by the brand, not by visitors; the first time a known customer asks for a code
we create their (passwordless) account and link it. The answer is the same whether the address is known or
not (``ACCOUNT_PREVENT_ENUMERATION``), and requests are rate limited per address and per IP.
"""

from urllib.parse import urljoin

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import RequestLoginCodeForm
from django.conf import settings

from apps.customers.selectors import customer_by_email_or_id
from apps.customers.services import ensure_login_account


class CustomerAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False

    def send_mail(self, template_prefix, email, context):
        """Our emails carry the brand; allauth renders the subject without the request's context processors."""
        brand = settings.BRAND
        logo = urljoin(settings.SITE_URL, brand["logo_url"]) if brand["logo_url"] else ""
        return super().send_mail(template_prefix, email, {**context, "brand": brand, "brand_logo_src": logo})


class RequestCustomerCodeForm(RequestLoginCodeForm):
    def clean_email(self) -> str:
        email = (self.cleaned_data.get("email") or "").strip().lower()
        if email:
            customer = customer_by_email_or_id(email)
            if customer is not None:
                ensure_login_account(customer=customer)
        return super().clean_email()
