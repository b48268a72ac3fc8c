"""Labels and wording: the purposes' titles, the notice wording shown, who acted, a value in words."""

import re

from django.contrib.auth import get_user_model

from apps.catalog.models import Notice, NoticeText, translated
from apps.consent.models import ConsentEvent

STATE_LABELS = dict(ConsentEvent.State.choices)


SOURCE_LABELS = dict(ConsentEvent.Source.choices)


def purpose_titles(language: str = "en") -> dict[str, str]:
    return {
        purpose: translated(title, language)
        for purpose, title in Notice.objects.values_list("purpose", "title")
    }


def wording_for(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], NoticeText | None]:
    """The notice text shown for each (notice version id, language), falling back to English."""
    version_ids = {version for version, _ in pairs}
    texts = {
        (text.version_id, text.language): text
        for text in NoticeText.objects.filter(version_id__in=version_ids).select_related("version__notice")
    }
    return {
        (version, language): texts.get((version, language)) or texts.get((version, "en"))
        for version, language in pairs
    }


def actor_labels(actors: set[str]) -> dict[str, str]:
    """``staff:12`` as the agent's name, the other kinds of actor as they are."""
    staff_ids = {int(actor.split(":", 1)[1]) for actor in actors if re.fullmatch(r"staff:\d+", actor)}
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=staff_ids)}
    labels = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind == "staff" and ident.isdigit() and int(ident) in users:
            user = users[int(ident)]
            labels[actor] = f"Agent {user.get_full_name() or user.get_username()} (staff #{user.pk})"
        elif kind == "api":
            labels[actor] = f"API client {ident}"
        elif kind == "import":
            labels[actor] = f"Import batch {ident}"
        else:
            labels[actor] = actor.capitalize()
    return labels


def describe_value(value) -> str:
    """A choice's value in one line: ``channels: email, sms · frequency: weekly``."""
    if not value:
        return ""
    parts = []
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, list):
            item = ", ".join(str(part) for part in item)
        elif isinstance(item, dict):
            item = ", ".join(f"{k} {v}" for k, v in item.items())
        parts.append(f"{key.replace('_', ' ')}: {item}")
    return " · ".join(parts)
