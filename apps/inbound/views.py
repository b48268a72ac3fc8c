"""One URL per inbound source, ``/inbound/<name>/`` (Mailchimp: ``/inbound/<name>/<secret>/``). Each request is
checked the provider's way before anything is read; a refused caller gets 401 and nothing is written."""

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from twilio.twiml.messaging_response import MessagingResponse

from . import providers, services, tasks
from .models import InboundSource
from .providers import Action, Refused

Kind = InboundSource.Kind


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receive(request, name, secret=""):
    received_at = timezone.now()
    source = services.enabled_source(name)
    if source is None:
        raise Http404("No such inbound source.")
    try:
        if source.kind == Kind.MAILCHIMP:
            providers.check_mailchimp_secret(source, secret)
            if request.method == "GET":
                return HttpResponse("ok", content_type="text/plain")  # the check Mailchimp makes when saved
        elif request.method != "POST" or secret:
            return HttpResponse(status=405 if request.method != "POST" else 404)
        reports = _reports(source, request, received_at)
    except Refused as refused:
        return HttpResponse(f"{refused}\n", status=refused.status, content_type="text/plain")
    handled = services.handle_reports(source=source, reports=reports, received_at=received_at)
    # The reports are committed (no transaction around a request): a worker can take them at once.
    tasks.queue_recording([h.waiting_id for h in handled if h.waiting_id is not None])
    if source.kind == Kind.TWILIO:
        return _twiml(source, handled[0], advanced_opt_out=bool(request.POST.get("OptOutType")))
    return JsonResponse(
        {"received": len(handled), "duplicates": sum(h.duplicate for h in handled)}, status=200
    )


def _reports(source: InboundSource, request, now) -> list[providers.Report]:
    headers = request.headers
    if source.kind == Kind.TWILIO:
        url = settings.SITE_URL.rstrip("/") + request.get_full_path()
        params = {key: request.POST[key] for key in request.POST}
        signature = headers.get("X-Twilio-Signature", "")
        return providers.twilio_reports(source, url=url, params=params, signature=signature, now=now)
    if source.kind == Kind.SENDGRID:
        return providers.sendgrid_reports(source, body=request.body, headers=headers, now=now)
    if source.kind == Kind.POSTMARK:
        auth = headers.get("Authorization", "")
        return providers.postmark_reports(source, body=request.body, authorization=auth, now=now)
    if source.kind == Kind.MAILCHIMP:
        return providers.mailchimp_reports(
            source, params={key: request.POST[key] for key in request.POST}, now=now
        )
    if source.kind == Kind.BRAZE:
        auth = headers.get("Authorization", "")
        return providers.braze_reports(source, body=request.body, authorization=auth, now=now)
    return providers.generic_reports(source, body=request.body, headers=headers, now=now)


def _twiml(source: InboundSource, handled: services.Handled, *, advanced_opt_out: bool) -> HttpResponse:
    """One confirmation on STOP (no marketing in it), one on START, the help text on HELP; nothing otherwise,
    in the customer's language (English for a number Candor does not know).
    With Advanced Opt-Out Twilio sends its own confirmation, so Candor adds none (a second text would be one
    too many)."""
    reply = MessagingResponse()
    replies = {
        Action.WITHDRAW: services.stop_confirmation,
        Action.REGRANT: services.start_confirmation,
        Action.HELP: lambda: source.help_text or services.default_help_text(),
    }
    if not advanced_opt_out and not handled.duplicate and handled.report.action in replies:
        with translation.override(handled.language):  # the customer's language, not the request's
            reply.message(replies[handled.report.action]())
    return HttpResponse(str(reply), content_type="application/xml")
