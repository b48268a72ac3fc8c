from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import Truncator

from . import selectors, services, tasks
from .models import Delivery, Destination


class DestinationForm(forms.ModelForm):
    """Secrets are write-only: a secret typed in replaces the old one, and no secret is ever shown again."""

    new_secret = forms.CharField(
        label="Secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. A vendor's API key; a new webhook without one gets a fresh whsec_ secret, shown "
        "once. Leave empty to keep the current one (rotate a webhook's with the action).",
    )

    class Meta:
        model = Destination
        fields = [
            "name",
            "kind",
            "endpoint",
            "options",
            "rate_limit",
            "batch_size",
            "purposes",
            "identifiers",
            "queue",
            "enabled",
        ]


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    form = DestinationForm
    list_display = ["name", "kind", "enabled", "pending", "oldest_pending", "delivered", "dead", "error"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "endpoint"]
    readonly_fields = ["previous_secret_expires_at", "disabled_reason", "resync_after_customer", "created_at"]
    fields = [*DestinationForm.Meta.fields, "new_secret", *readonly_fields]
    actions = ["replay_dead", "enable", "rotate_secret"]

    def get_queryset(self, request):
        return selectors.destinations_with_stats()

    @admin.display(ordering="pending")
    def pending(self, obj):
        return obj.pending

    @admin.display(description="oldest pending")
    def oldest_pending(self, obj):
        if not obj.oldest_pending_at:
            return "—"
        return f"{(timezone.now() - obj.oldest_pending_at).total_seconds():.0f} s"

    @admin.display(ordering="delivered")
    def delivered(self, obj):
        return obj.delivered

    @admin.display(ordering="dead")
    def dead(self, obj):
        return obj.dead

    @admin.display(description="last error")
    def error(self, obj):
        return Truncator(obj.last_error or obj.disabled_reason or "").chars(80)

    def save_model(self, request, obj, form, change):
        secret = form.cleaned_data["new_secret"]
        if change:  # validated by the form through the model's full_clean, as add_destination does
            obj.secret = secret or obj.secret
            super().save_model(request, obj, form, change)
            return
        destination = services.add_destination(
            name=obj.name,
            kind=obj.kind,
            endpoint=obj.endpoint,
            secret=secret,
            options=obj.options,
            rate_limit=obj.rate_limit,
            batch_size=obj.batch_size,
            purposes=obj.purposes,
            identifiers=obj.identifiers,
            queue=obj.queue,
            enabled=obj.enabled,
        )
        obj.pk = destination.pk
        if destination.kind == Destination.Kind.WEBHOOK and not secret:
            self.message_user(
                request,
                f"Signing secret for {destination.name} (shown only now, give it to the receiver): "
                f"{destination.secret}",
                messages.WARNING,
            )

    @admin.action(description="Replay dead deliveries")
    def replay_dead(self, request, queryset):
        replayed = sum(services.replay_dead(destination=destination) for destination in queryset)
        if replayed:
            tasks.sweep.delay()
        self.message_user(request, f"Replayed {replayed} dead deliveries.")

    @admin.action(description="Enable (what waited is sent)")
    def enable(self, request, queryset):
        for destination in queryset:
            services.set_destination_enabled(destination=destination, enabled=True)
        tasks.sweep.delay()
        self.message_user(request, f"Enabled {queryset.count()} destinations.")

    @admin.action(description="Rotate the signing secret (old one signs too for 24 hours)")
    def rotate_secret(self, request, queryset):
        for destination in queryset.filter(kind=Destination.Kind.WEBHOOK):
            secret = services.rotate_secret(destination=destination)
            messages.info(request, f"New signing secret for {destination.name}: {secret}")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "destination",
        "customer",
        "version",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "short_error",
    ]
    list_filter = ["status", "destination"]
    search_fields = ["customer__external_id"]
    list_select_related = ["destination", "customer"]
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="last error")
    def short_error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Replay the selected dead deliveries")
    def replay(self, request, queryset):
        replayed = services.replay_dead(delivery_ids=list(queryset.values_list("pk", flat=True)))
        if replayed:
            tasks.sweep.delay()
        self.message_user(request, f"Replayed {replayed} dead deliveries.")
