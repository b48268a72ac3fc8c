from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "apps.consent"
    verbose_name = "Consent"
