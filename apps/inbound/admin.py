from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from apps.consent.models import InboundReport

from . import services
from .models import InboundSource


class InboundSourceForm(forms.ModelForm):
    new_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Twilio auth token, whsec_ key, URL secret, bearer token or basic-auth password. Write-only: "
        "leave empty to keep the current one.",
    )

    class Meta:
        model = InboundSource
        fields = ["name", "kind", "channel", "scopes", "username", "public_key", "help_text", "enabled"]

    def clean(self):
        data = super().clean()
        if "scopes" in data and data.get("channel"):
            try:
                services.check_scopes(data["scopes"], data["channel"])
            except ValidationError as error:
                self.add_error("scopes", error.messages)
        try:
            services.check_public_key(data.get("kind", ""), data.get("public_key", ""))
        except ValidationError as error:
            self.add_error("public_key", error.messages)
        return data


@admin.register(InboundSource)
class InboundSourceAdmin(admin.ModelAdmin):
    """Secrets are never shown again: the form takes a new one and keeps only what checks it."""

    form = InboundSourceForm
    list_display = ["name", "kind", "channel", "enabled", "created_at"]
    list_filter = ["kind", "enabled"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("new_secret"):
            services.set_signing_key(source=obj, signing_key=form.cleaned_data["new_secret"])


@admin.register(InboundReport)
class InboundReportAdmin(admin.ModelAdmin):
    list_display = ["event_id", "source_name", "kind", "outcome", "customer", "received_at", "recorded_at"]
    list_filter = ["source_name", "outcome"]
    search_fields = ["event_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
