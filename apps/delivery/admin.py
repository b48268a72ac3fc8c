from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import Truncator

from . import selectors, services, tasks
from .adapters.webhook import new_secret
from .models import Delivery, Destination


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "pending", "oldest_pending", "delivered", "dead", "error"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "endpoint"]
    readonly_fields = ["previous_secret_expires_at", "disabled_reason", "resync_after_customer", "created_at"]
    exclude = ["previous_secret"]
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
        if obj.kind == Destination.Kind.WEBHOOK and not obj.secret:
            obj.secret = new_secret()
            messages.info(request, f"Signing secret for {obj.name}: {obj.secret}")
        super().save_model(request, obj, form, change)

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
