"""The brand's colours as CSS custom properties, from ``settings.BRAND`` (the CSP allows no inline styles)."""

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(public=True, max_age=3600)
def brand_css(request):
    brand = settings.BRAND
    css = f":root {{ --accent: {brand['accent_colour']}; --ink: {brand['ink_colour']}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")
