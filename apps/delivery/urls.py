from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("sandbox/<slug:name>/hooks", views.sandbox_receive, name="sandbox_receive"),
]
