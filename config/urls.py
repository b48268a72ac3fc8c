from allauth.account import views as account_views
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

# Only the allauth pages in use: customers sign in by code; staff re-authenticate with their password and use the
# TOTP pages (allauth's MFA). Not mounted: sign-up, password login and reset, and email management, where a
# customer signed in by code could add someone else's address to their account (and the owner's next code login
# would land in it). A customer's address changes only through ``apps.consent.services.change_identity``.
accounts = [
    # allauth sends an aborted or missing login here by name.
    path("login/", RedirectView.as_view(pattern_name="account_request_login_code"), name="account_login"),
    path("login/code/", account_views.request_login_code, name="account_request_login_code"),
    path("login/code/confirm/", account_views.confirm_login_code, name="account_confirm_login_code"),
    path("logout/", account_views.logout, name="account_logout"),
    path("inactive/", account_views.account_inactive, name="account_inactive"),
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("2fa/", include("allauth.mfa.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts)),
    path("api/", include("apps.api.urls")),
    path("support/", include("apps.support.urls")),
    path("delivery/", include("apps.delivery.urls")),
    path("inbound/", include("apps.inbound.urls")),
    path("", include("apps.preferences.urls")),
]
