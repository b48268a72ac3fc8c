"""Every customer page in German carries no English label: from our locale, allauth's, Django's or the catalog."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import trans_real

from apps.catalog.models import Channel, NoticeText, NoticeVersion, Option, Topic
from apps.consent.rules import Provenance
from apps.consent.services import publish_notice_version, record_choices
from apps.customers.links import CONFIRM_EMAIL, UNSUBSCRIBE, make_token
from apps.demo.catalog import load_demo_catalog
from tests.factories import CustomerFactory, make_choice

from .conftest import nv, open_link

SKIPPED = {"script", "style"}
ATTRIBUTES = {"aria-label", "title", "placeholder", "alt"}


class VisibleText(HTMLParser):
    """Text nodes and the attributes a person reads or hears, outside <script> and <style>, and outside parts
    marked as another language (the "English" switch, the English wording a customer was shown)."""

    def __init__(self, language: str):
        super().__init__()
        self.language, self.chunks, self._skipping, self._languages = language, [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._skipping += tag in SKIPPED
        if "lang" in attrs:
            self._languages.append((tag, attrs["lang"]))
        if self._german():
            self.chunks += [value.strip() for name, value in attrs.items() if name in ATTRIBUTES and value]

    def handle_endtag(self, tag):
        self._skipping -= tag in SKIPPED
        if self._languages and self._languages[-1][0] == tag:
            self._languages.pop()

    def handle_data(self, data):
        if not self._skipping and self._german() and data.strip():
            self.chunks.append(" ".join(data.split()))

    def _german(self) -> bool:
        return not self._languages or self._languages[-1][1] == self.language


def visible_text(html: str, language: str) -> list[str]:
    parser = VisibleText(language)
    parser.feed(html)
    return parser.chunks


def english_labels() -> set[str]:
    """Every English string that has a different German translation: UI strings and the catalog's English."""
    catalog = trans_real.translation("de")._catalog
    labels = {
        key for key, german in catalog.items() if isinstance(key, str) and key and german and german != key
    }
    for model, fields in (
        (Channel, ("label",)),
        (Topic, ("label", "required_reason")),
        (Option, ("label", "description")),
    ):
        for row in model.objects.all():
            for name in fields:
                value = getattr(row, name) or {}
                if value.get("en") and value.get("en") != value.get("de"):
                    labels.add(value["en"])
    for text in NoticeText.objects.filter(language="en"):
        labels.update(getattr(text, name) for name in NoticeText.WORDING_FIELDS)
    return {label for label in labels if "%(" not in label and "{" not in label}


def english_in(html: str, labels: set[str], language: str = "de") -> list[str]:
    chunks = visible_text(html, language)
    whole = " ".join(chunks)
    found = [chunk for chunk in chunks if chunk in labels]
    # Longer labels may sit inside a text node together with data: look for them anywhere.
    found += [label for label in labels if len(label.split()) >= 4 and label in whole]
    return sorted(set(found))


@pytest.fixture
def german_customer(db):
    load_demo_catalog()
    for version in NoticeVersion.objects.filter(published_at__isnull=True):
        publish_notice_version(version=version)
    customer = CustomerFactory(
        email="lena@example.com", phone="+4915112345678", phone_verified_at=None, locale="de"
    )
    now = timezone.now()
    # Something from every source and in every state the history can show.
    for source, choices in (
        (
            "import",
            [make_choice("channel:push"), make_choice("topic:new-arrivals", value={"channels": ["push"]})],
        ),
        ("web", [make_choice("location", value={"level": "city"}, expires_at=now + timedelta(days=7))]),
        ("web", [make_choice("personalization", value={"depth": "interests"})]),
        ("gpc", [make_choice("personalization", state="withdrawn")]),
        ("support_agent", [make_choice("channel:postal", state="refused")]),
        ("one_click_unsubscribe", [make_choice("channel:phone", state="refused")]),
        (
            "api",
            [
                make_choice(
                    "frequency",
                    value={"digest": "weekly", "paused_until": (now + timedelta(days=9)).date().isoformat()},
                )
            ],
        ),
        ("web", [make_choice("channel:email", state="requested")]),
        ("email_link", [make_choice("channel:email", state="given")]),
        ("system", [make_choice("channel:push", state="expired")]),
    ):
        record_choices(
            customer=customer,
            choices=choices,
            provenance=Provenance(source=source, actor="system"),
        )
    return customer


def german_pages(client, customer) -> dict[str, str]:
    open_link(client, customer)
    client.post(reverse("preferences:language"), {"language": "de", "next": "/"})
    # A number awaiting its code, and a refused save shown with its error, as a customer can meet them.
    client.post(
        reverse("preferences:page"),
        {
            "section": "channels",
            "channel": ["sms"],
            **nv("channel:email", "channel:sms", "channel:push", "channel:postal", "channel:phone"),
        },
    )
    pages = {
        name: client.get(path).content.decode()
        for name, path in {
            "home": "/",
            "start": reverse("preferences:start"),
            "page": reverse("preferences:page"),
            "history": reverse("preferences:history"),
            "leave": reverse("preferences:leave"),
            "unsubscribe": reverse(
                "preferences:unsubscribe",
                args=["channel:email", make_token(customer, UNSUBSCRIBE, "channel:email")],
            ),
            "confirm email": reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)]),
            "invalid link": reverse("preferences:link", args=["1:bad:bad"]),
        }.items()
    }
    pages["page with an error"] = client.post(
        reverse("preferences:page"),
        {"section": "frequency", "quiet_start": "22:00", "digest": "weekly", **nv("frequency")},
    ).content.decode()
    pages["leave, done"] = client.post(reverse("preferences:leave"), {"action": "pause"}).content.decode()
    client.post(reverse("preferences:sign_out"))
    client.post(reverse("preferences:language"), {"language": "de", "next": "/"})
    pages["request a code"] = client.get(reverse("account_request_login_code")).content.decode()
    response = client.post(reverse("account_request_login_code"), {"email": "lena@example.com"}, follow=True)
    pages["enter the code"] = response.content.decode()
    pages["code email"] = "\n".join(
        [mail.outbox[-1].subject, mail.outbox[-1].body, mail.outbox[-1].alternatives[0][0]]
    )
    return pages


def test_no_german_customer_page_shows_an_english_label(client, german_customer):
    pages = german_pages(client, german_customer)
    with translation.override("de"):
        labels = english_labels()
    found = {name: english_in(html, labels) for name, html in pages.items()}
    assert {name: words for name, words in found.items() if words} == {}


def test_the_check_itself_finds_english_on_an_english_page(client, german_customer):
    german_customer.locale = "en"
    german_customer.save()
    open_link(client, german_customer)
    with translation.override("de"):
        labels = english_labels()
    html = client.get(reverse("preferences:page")).content.decode()
    assert "Your choices" in english_in(html, labels, language="en")


def test_german_says_abmelden_only_for_signing_out_and_abbestellen_for_unsubscribing(client, german_customer):
    pages = german_pages(client, german_customer)
    for name in ("page", "leave", "history"):
        chunks = visible_text(pages[name], "de")
        assert chunks.count("Abmelden") == 1, name  # the sign-out button
        assert name == "history" or "Alles abbestellen" in chunks, name
    with translation.override("de"):
        unsubscribing = [
            translation.gettext(m) for m in ("Unsubscribe", "Unsubscribe from everything", "Leave")
        ]
    assert not [words for words in unsubscribing if "bmeld" in words]
