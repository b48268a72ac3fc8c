import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .models import Destination


@require_GET
def metrics(request):
    """Prometheus text format, for the scraper's bearer token (DELIVERY_METRICS_TOKEN) only.

    Not for staff sessions: staff pages pass the support console's gate (password and TOTP), which this app,
    below the front doors, does not import; the admin's destination list shows staff the same figures.
    """
    token = settings.DELIVERY_METRICS_TOKEN
    offered = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not (token and hmac.compare_digest(offered.encode(), token.encode())):
        response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="candor-metrics"'
        return response
    return HttpResponse(
        selectors.prometheus_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8"
    )


def _sandbox(name):
    if not settings.DELIVERY_SANDBOX:
        raise Http404("The sandbox is off (DELIVERY_SANDBOX).")
    return get_object_or_404(Destination, name=name, kind=Destination.Kind.WEBHOOK)


@csrf_exempt
@require_POST
def sandbox_receive(request, name):
    destination = _sandbox(name)
    if not services.receive_in_sandbox(destination=destination, body=request.body, headers=request.headers):
        return HttpResponse("Signature does not verify.\n", status=401, content_type="text/plain")
    return HttpResponse(status=204)
