from django import forms
from django.contrib import admin, messages

from .models import ApiClient
from .services import api_client_create, api_client_revoke


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiClient.Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiClient
        fields = ["name", "scopes"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "key_prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "scopes", *readonly_fields]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        client, raw_key = api_client_create(name=obj.name, scopes=obj.scopes or [])
        obj.pk = client.pk
        self.message_user(
            request, f"The key for {client.name} (shown only now, copy it): {raw_key}", messages.WARNING
        )

    @admin.action(description="Revoke the selected clients' keys")
    def revoke(self, request, queryset):
        for client in queryset:
            api_client_revoke(client=client)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
