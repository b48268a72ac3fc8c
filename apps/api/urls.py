from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views.batch import BatchConsentsApi
from .views.catalog import CatalogApi
from .views.customers import CustomerApi, CustomerConsentsApi, CustomerInferencesApi
from .views.permissions import (
    CustomerPermissionsApi,
    PermissionChangesApi,
    PermissionExportApi,
    PermissionsUpdatedSinceApi,
)
from .views.senders import DecisionsApi, ExplainApi, LinksApi, MessagesApi

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from ?script instead of inline: the CSP allows only 'self'.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/docs.html"),
        name="docs",
    ),
    path("v1/catalog", CatalogApi.as_view(), name="catalog"),
    path("v1/customers/<str:external_id>", CustomerApi.as_view(), name="customer"),
    path(
        "v1/customers/<str:external_id>/permissions",
        CustomerPermissionsApi.as_view(),
        name="customer-permissions",
    ),
    path("v1/customers/<str:external_id>/consents", CustomerConsentsApi.as_view(), name="customer-consents"),
    path(
        "v1/customers/<str:external_id>/inferences",
        CustomerInferencesApi.as_view(),
        name="customer-inferences",
    ),
    path("v1/consents:batch", BatchConsentsApi.as_view(), name="consents-batch"),
    path("v1/customers/<str:external_id>/explain", ExplainApi.as_view(), name="customer-explain"),
    path("v1/links", LinksApi.as_view(), name="links"),
    path("v1/decisions", DecisionsApi.as_view(), name="decisions"),
    path("v1/messages", MessagesApi.as_view(), name="messages"),
    path("v1/permissions", PermissionsUpdatedSinceApi.as_view(), name="permissions"),
    path("v1/permissions/changes", PermissionChangesApi.as_view(), name="permission-changes"),
    path("v1/permissions/export", PermissionExportApi.as_view(), name="permission-export"),
]
