from django.conf import settings


def brand(request):
    """The brand (``settings.BRAND``) in every template: name, colours, logo, support contact, legal links."""
    return {"brand": settings.BRAND}
