from django.contrib import admin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "email", "phone", "locale", "created_at", "erased_at"]
    search_fields = ["external_id", "email", "phone", "name"]
    readonly_fields = ["created_at", "erased_at"]
