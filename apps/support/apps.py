from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SupportConfig(AppConfig):
    name = "apps.support"
    verbose_name = "Support"


class StaffAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the staff gate in front of every page (``apps.support.admin_site``)."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin; SupportConfig is this app's
    default_site = "apps.support.admin_site.StaffAdminSite"

    def ready(self):
        super().ready()  # every app's admin module is registered now
        from .admin import lock_down_third_party_admins

        lock_down_third_party_admins()
