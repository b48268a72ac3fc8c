"""The project's URLs plus the bare baseline of ``benchmarks/api.py``: one row read by primary key, as JSON."""

from django.http import JsonResponse
from django.urls import path

from apps.customers.models import Customer
from config.urls import urlpatterns as project_urlpatterns


def bare_customer(request, pk):
    return JsonResponse(Customer.objects.values("id", "external_id", "email", "locale").get(pk=pk))


urlpatterns = [*project_urlpatterns, path("bench/bare/<int:pk>", bare_customer)]
