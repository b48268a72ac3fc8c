from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("apps.api.urls")),
    path("support/", include("apps.support.urls")),
    path("delivery/", include("apps.delivery.urls")),
    path("inbound/", include("apps.inbound.urls")),
    path("", include("apps.preferences.urls")),
]
