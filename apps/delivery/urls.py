from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("sandbox/", views.sandbox, name="sandbox"),
    path("sandbox/<slug:name>/", views.sandbox, name="sandbox_for"),
    path("sandbox/<slug:name>/hooks", views.sandbox_receive, name="sandbox_receive"),
]
