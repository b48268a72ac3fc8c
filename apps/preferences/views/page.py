"""The preference page: every section, saved one section at a time (htmx on change, or the form's Save)."""

import secrets

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.catalog.selectors import catalog_rules
from apps.customers.selectors import masked_email, masked_phone

from .. import leaving, services
from ..access import customer_required
from ..selectors import current_notices, keep_typed, page_summary, preference_page, received_in_return

FLASH_KEY = "preferences_flash"
UNDO_KEY = "preferences_undo"
SECTIONS_TEMPLATE = "preferences/partials/sections.html"


def _context(request, *, errors=None, status=None, gpc=None, section="", rules=None, open_sections=()):
    page = preference_page(request.customer, request.LANGUAGE_CODE, rules)
    if errors:
        keep_typed(page, section, request.POST)
    titles = {purpose: notice.title for purpose, notice in page.notices.items()}
    summary, section_summaries = page_summary(page)
    return {
        # Sections are folded to their summary; the one being changed (or just saved) stays open.
        "open_sections": {section, *open_sections},
        "summary": summary,
        "section_summaries": section_summaries,
        "error_section": section,
        "gpc_titles": [titles.get(purpose, purpose) for purpose in gpc or []],
        "page": page,
        "errors": errors or {},
        "status": status,
        "gpc": gpc or [],
        "gpc_signal": request.headers.get("Sec-GPC") == "1",
        "sms_pending_to": masked_phone(services.sms_code_pending_for(request.customer) or ""),
    }


def _status_for(request, saved: services.Saved, titles: dict) -> dict:
    customer = request.customer
    parts = []
    if saved.changed:
        names = ", ".join(titles.get(purpose, purpose) for purpose in saved.purposes)
        parts.append(_("Saved: %(names)s.") % {"names": names})
    if saved.email_confirmation_sent:
        parts.append(
            _("We sent a confirmation link to %(email)s. Emails start once you click it.")
            % {"email": masked_email(customer.email)}
        )
    if saved.sms_code_sent:
        parts.append(
            _("We texted a code to %(phone)s. Enter it below to switch text messages on.")
            % {"phone": masked_phone(saved.sms_sent_to or customer.phone)}
        )
    if not parts:
        parts.append(_("Saved. Nothing changed."))
    status = {"message": " ".join(parts), "undo": None}
    if saved.changed and saved.before:
        token = secrets.token_urlsafe(8)
        request.session[UNDO_KEY] = {"token": token, "before": saved.before}
        status["undo"] = token
    return status


def _respond(
    request, *, section: str, saved=None, message: str = "", errors=None, code=200, rules=None, opened=()
):
    """Answer a save: the changed region and the status for htmx, or a redirect back (the page on errors)."""
    if request.htmx or errors:
        context = _context(request, errors=errors, section=section, rules=rules, open_sections=opened)
        titles = {purpose: notice.title for purpose, notice in context["page"].notices.items()}
    else:
        context, titles = None, {p: n.title for p, n in current_notices(request.LANGUAGE_CODE).items()}
    status = _status_for(request, saved, titles) if saved is not None else {"message": message}
    if context is None:
        request.session[FLASH_KEY] = {**status, "open": [section, *opened]}
        anchor = section if section in services.SECTIONS else "choices"
        return redirect(f"{request.path}#{anchor}")
    context["status"] = status
    if not request.htmx:
        return render(request, "preferences/page.html", context, status=code)
    target = f"{SECTIONS_TEMPLATE}#{section}" if section in services.SECTIONS else f"{SECTIONS_TEMPLATE}#all"
    body = (
        render_to_string(target, context, request)
        + render_to_string(f"{SECTIONS_TEMPLATE}#summary", {**context, "oob": True}, request)
        + render_to_string("preferences/partials/status.html#status-oob", context, request)
    )
    return HttpResponse(body)


@customer_required
@require_http_methods(["GET", "POST"])
def page(request):
    gpc = []
    if request.headers.get("Sec-GPC") == "1":
        gpc = leaving.honour_gpc(visit=request.visit)
    if request.method == "GET":
        status = request.session.pop(FLASH_KEY, None)
        context = _context(request, status=status, gpc=gpc, open_sections=(status or {}).get("open", ()))
        context["received"] = received_in_return(request.customer, request.LANGUAGE_CODE)
        services.note_page_shown(context["page"])
        return render(request, "preferences/page.html", context)

    section = request.POST.get("section", "")
    action = request.POST.get("action", "save")
    rules = (
        catalog_rules()
    )  # read once for the save and the answer (the write path reads its own under the lock)
    try:
        if action == "send_sms_code":
            section = "channels"
            saved = services.start_sms_with_number(visit=request.visit, data=request.POST, rules=rules)
        elif action == "verify_sms":
            section = "channels"
            saved = services.verify_sms_code(visit=request.visit, code=request.POST.get("code", ""))
        elif action == "resend_sms":
            section = "channels"
            saved = services.resend_sms_code(visit=request.visit)
        elif action == "cancel_sms":
            section = "channels"
            services.cancel_sms_code(request.customer)
            saved = services.Saved()
        elif action == "resend_email":
            section = "channels"
            saved = services.resend_email_confirmation(visit=request.visit)
        elif action == "remove_inference":
            removed = services.remove_inference(
                visit=request.visit,
                code=request.POST.get("code", ""),
                removal=request.POST.get("removal", ""),
            )
            message = _("Removed: we no longer use it and told our other systems to delete it.")
            return _respond(request, section="known", message=message if removed else _("Nothing changed."))
        elif section.startswith("reask:"):
            purpose = section.removeprefix("reask:")
            saved = services.answer_reask(
                visit=request.visit, purpose=purpose, answer=request.POST.get("answer", ""), data=request.POST
            )
        else:
            saved = services.save_section(
                visit=request.visit, section=section, data=request.POST, rules=rules
            )
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {"section": error.messages}
        status = {
            "message": _("Not saved: %(problems)s")
            % {"problems": " ".join(message for messages in errors.values() for message in messages)}
        }
        return _respond(request, section=section, message=status["message"], errors=errors, code=400)
    opened = [services.section_of(section.removeprefix("reask:"))] if section.startswith("reask:") else []
    return _respond(request, section=section, saved=saved, rules=rules, opened=opened)


@customer_required
@require_POST
def undo(request):
    held = request.session.get(UNDO_KEY)
    if not held or held["token"] != request.POST.get("undo"):
        return _respond(request, section="all", message=_("There is nothing to undo."))
    request.session.pop(UNDO_KEY)
    saved = services.undo(visit=request.visit, before=held["before"])
    opened = [services.section_of(purpose) for purpose in held["before"]]
    message = _("Undone.") if saved.changed else _("There is nothing to undo.")
    if saved.email_confirmation_sent:
        message += " " + _("We sent a confirmation link to %(email)s. Emails start once you click it.") % {
            "email": masked_email(request.customer.email)
        }
    return _respond(request, section="all", message=message, opened=opened)
