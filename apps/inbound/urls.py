from django.urls import path

from . import views

app_name = "inbound"

urlpatterns = [
    path("<slug:name>/", views.receive, name="receive"),
    path("<slug:name>/<str:secret>/", views.receive, name="receive_with_secret"),
]
