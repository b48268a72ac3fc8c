"""The admin's account pages: staff accounts only, authenticators without their seeds, no email-address editor.

``django.contrib.auth`` and allauth register admins of their own; ``lock_down_third_party_admins`` (called once
every admin is registered) replaces them, so the admin is no way around the staff gate or the write path.
"""

from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.mfa.models import Authenticator
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError

from .services import enrolment_url, invite_staff


class AuthenticatorAdmin(admin.ModelAdmin):
    """Never shows a TOTP seed or recovery codes. An authenticator can be removed, not added or edited: its owner
    then sets up a new one through an enrolment link."""

    list_display = fields = readonly_fields = ("user", "type", "created_at", "last_used_at")
    list_filter = ["type"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StaffUserAdmin(UserAdmin):
    """Staff accounts. Customers' login accounts are left out: their address is the customer's identity, which
    only ``change_identity`` changes."""

    actions = ["invite"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(customer__isnull=True)

    @admin.action(description="Make an enrolment link (first authenticator, single use, expires)")
    def invite(self, request, queryset):
        for user in queryset:
            try:
                token = invite_staff(staff=user)
            except ValidationError as error:
                self.message_user(request, f"{user}: {' '.join(error.messages)}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"Enrolment link for {user} (shown only now; give it to them only): {enrolment_url(token)}",
                messages.WARNING,
            )


def lock_down_third_party_admins() -> None:
    user_model = get_user_model()
    # allauth's email addresses are customers' login identities (and staff's sign-in names): not edited here.
    for model in (Authenticator, user_model, EmailAddress, EmailConfirmation):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
    admin.site.register(Authenticator, AuthenticatorAdmin)
    admin.site.register(user_model, StaffUserAdmin)
