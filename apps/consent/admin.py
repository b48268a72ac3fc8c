from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.catalog.admin import NoticeTextInline
from apps.catalog.models import NoticeVersion
from apps.customers.models import Customer

from . import tasks
from .models import ConsentEvent, OutboxEntry, PermissionDocument
from .selectors import superseded_consents
from .services import change_identity, mark_notice_version_published


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger and what derives from it are written only by the write path."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Registered here rather than in the customers app because an identity edit reaches into the ledger: a new
# address or number pauses the consent the old one had proved (``change_identity``).
@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "email", "phone", "locale", "created_at", "erased_at"]
    search_fields = ["external_id", "email", "phone", "name"]
    fields = [
        "external_id",
        "email",
        "phone",
        "name",
        "locale",
        "phone_verified_at",
        "created_at",
        "erased_at",
    ]
    readonly_fields = ["phone_verified_at", "created_at", "erased_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> list[str]:
        return [*self.readonly_fields, "external_id"] if obj else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and not (obj and obj.erased_at)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # erasure is a data-subject request, run in the support console

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        customer, _ = change_identity(
            external_id=obj.external_id,
            source=ConsentEvent.Source.SUPPORT_AGENT,
            actor=f"staff:{request.user.pk}",
            email=obj.email,
            phone=obj.phone,
            name=obj.name,
            locale=obj.locale,
        )
        obj.pk = customer.pk


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["customer", "sequence", "purpose", "state", "source", "actor", "recorded_at"]
    list_filter = ["state", "source"]
    search_fields = ["customer__external_id", "purpose"]
    list_select_related = ["customer"]


@admin.register(PermissionDocument)
class PermissionDocumentAdmin(ReadOnlyAdmin):
    list_display = ["customer", "version", "created_at"]
    search_fields = ["customer__external_id"]
    list_select_related = ["customer"]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "document", "created_at", "dispatched_at"]


# Registered here rather than in the catalog app because publishing reaches into the ledger:
# a material version invalidates older consents through the write path.
@admin.register(NoticeVersion)
class NoticeVersionAdmin(admin.ModelAdmin):
    list_display = ["notice", "number", "material", "experimental", "published_at"]
    list_filter = ["notice", "material", "experimental"]
    inlines = [NoticeTextInline]
    actions = ["publish"]

    readonly_fields = ["published_at", "text_hash"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A published version never changes (the model refuses): the admin shows it, read-only. Nor does an
        # experiment's variant: its wording is the experiment's, linted and approved there (apps/experiments).
        return super().has_change_permission(request, obj) and not (
            obj and (obj.is_published or obj.experimental)
        )

    @admin.action(description="Publish (a material version asks everyone again)")
    def publish(self, request: HttpRequest, queryset: QuerySet[NoticeVersion]) -> None:
        for version in queryset.select_related("notice"):
            try:
                mark_notice_version_published(version=version)
            except ValidationError as error:
                self.message_user(request, f"{version}: {'; '.join(error.messages)}", messages.ERROR)
                continue
            if not version.material:
                self.message_user(request, f"Published {version}; not a material change, so consents stand.")
                continue
            # Possibly millions of write-path calls: a Celery task does them, in batches, after this commits.
            affected = superseded_consents(version=version).count()
            transaction.on_commit(partial(self._invalidate_in_background, request, version, affected))

    def _invalidate_in_background(self, request: HttpRequest, version: NoticeVersion, affected: int) -> None:
        if tasks.queue_invalidation(version.pk):
            self.message_user(
                request,
                f"Published {version}. Consents given under older versions are being invalidated in the "
                f"background: up to {affected} customer(s) will be asked again.",
            )
            return
        minutes = max(1, settings.NOTICE_INVALIDATION_SWEEP_SECONDS // 60)
        self.message_user(
            request,
            f"Published {version}. The task queue could not be reached, so consents given under older versions "
            f"(up to {affected} customer(s)) are not invalidated yet: the sweeper does it, every {minutes} "
            f"minute(s), once the queue is back.",
            messages.WARNING,
        )
