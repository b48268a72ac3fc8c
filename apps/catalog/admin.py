from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .models import (
    BenefitKind,
    Channel,
    Notice,
    NoticeText,
    NoticeVersion,
    Option,
    Question,
    QuestionVersion,
    Topic,
)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "double_opt_in", "supports_quiet_hours", "position"]


class TopicForm(forms.ModelForm):
    class Meta:
        model = Topic
        fields = ["slug", "label", "kind", "channels", "required", "required_reason", "position"]

    def _post_clean(self) -> None:
        # The model's own rules (Topic.refuse_widening) on the other fields; a private Django hook, not in the stubs.
        super()._post_clean()  # type: ignore[misc]
        if self.instance.pk and "channels" in self.cleaned_data:
            try:
                self.instance.refuse_widening(channels=self.cleaned_data["channels"])
            except ValidationError as error:
                self._update_errors(error)  # type: ignore[attr-defined]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicForm
    list_display = ["slug", "label", "kind", "required", "position"]
    filter_horizontal = ["channels"]

    def get_readonly_fields(self, request: HttpRequest, obj: Topic | None = None) -> list[str]:
        return ["kind"] if obj else []


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ["set", "code", "label", "rank", "is_default"]
    list_filter = ["set"]


@admin.register(BenefitKind)
class BenefitKindAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "purpose"]


class NoticeTextInline(admin.StackedInline):
    model = NoticeText
    extra = 0

    def has_change_permission(self, request: HttpRequest, obj: NoticeVersion | None = None) -> bool:
        return obj is None or not (obj.is_published or obj.experimental)

    has_add_permission = has_delete_permission = has_change_permission


class NoticeVersionInline(admin.TabularInline):
    model = NoticeVersion
    fields = ["number", "material", "published_at"]
    readonly_fields = ["number", "material", "published_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Notice | None = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["purpose", "honours_gpc"]
    inlines = [NoticeVersionInline]


class QuestionVersionInline(admin.TabularInline):
    """The answer options of each version; the wording is the ``profile:<code>`` notice's version, published
    from there, after which these options cannot change either (``QuestionVersion.clean``)."""

    model = QuestionVersion
    fields = ["notice_version", "options"]
    extra = 0
    can_delete = False

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "notice_version":
            kwargs["queryset"] = NoticeVersion.objects.filter(notice__purpose__startswith="profile:")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "may_send_downstream", "position"]
    inlines = [QuestionVersionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Question | None = None) -> list[str]:
        return ["code", "kind"] if obj else []
