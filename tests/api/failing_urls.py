"""The real URLs plus one API view with a bug in it: what an unhandled exception under /api/ answers."""

from django.urls import path

from config.urls import urlpatterns as real_urlpatterns


def a_view_with_a_bug(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/v1/bug", a_view_with_a_bug), *real_urlpatterns]
