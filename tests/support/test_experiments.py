"""The experiment pages: a marketing admin creates, starts and stops; a privacy officer approves; others are
refused; the page says plainly where the experiment stands, in English and German."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.experiments.models import Experiment

from .conftest import make_staff, sign_in

NEW = {
    "name": "Offers by email",
    "purpose": "topic:offers",
    "value_en_A": "Short, urgent news on your topics.",
    "value_de_A": "Kurze, dringende Neuigkeiten zu Ihren Themen.",
    "value_en_B": "Back-in-stock alerts in your size, never more than two a week.",
    "value_de_B": "Hinweise, wenn Ihre Größe wieder da ist, höchstens zwei pro Woche.",
}


@pytest.fixture
def marketer_client(client, catalog):
    return sign_in(client, make_staff("marketing", username="marketer"))


def officer_client(catalog):
    return sign_in(Client(), make_staff("officer", username="officer"))


def created(marketer_client) -> Experiment:
    response = marketer_client.post(reverse("support:experiment_new"), NEW)
    assert response.status_code == 302
    return Experiment.objects.get()


def test_a_marketing_admin_creates_an_experiment_from_the_current_wording(marketer_client):
    experiment = created(marketer_client)
    current = current_notice_version("topic:offers").texts.get(language="de")
    variant = experiment.variants.get(label="B").notice_version.texts.get(language="de")
    assert variant.what_you_get == NEW["value_de_B"]
    assert variant.what_we_do == current.what_we_do
    assert list(experiment.variants.values_list("weight", flat=True)) == [50, 50]


def test_a_marketing_admin_gives_a_variant_an_example_in_both_languages(marketer_client):
    example = {
        "example_en_B": "“Your size 38 is back: 2 left.”",
        "example_de_B": "„Ihre Größe 38 ist wieder da: noch 2.“",
    }
    response = marketer_client.post(reverse("support:experiment_new"), {**NEW, **example})
    experiment = Experiment.objects.get()
    texts = experiment.variants.get(label="B").notice_version.texts
    assert dict(texts.values_list("language", "example")) == {
        "en": example["example_en_B"],
        "de": example["example_de_B"],
    }
    assert set(experiment.variants.get(label="A").notice_version.texts.values_list("example", flat=True)) == {
        ""
    }
    page = marketer_client.get(response["Location"]).content.decode()
    assert f"<dd>{example['example_de_B']}</dd>" in page
    assert "Every variant is a full, valid notice in every language" in page


def test_an_example_in_one_language_alone_is_shown_by_the_lint_and_cannot_be_approved(
    marketer_client, catalog
):
    response = marketer_client.post(
        reverse("support:experiment_new"), {**NEW, "example_en_A": "“Boots, 20 % off.”"}
    )
    experiment = Experiment.objects.get()
    page = marketer_client.get(response["Location"]).content.decode()
    assert "Variant A gives an example in en but not in de: give one in every language, or in none." in page
    officer_client(catalog).post(reverse("support:experiment_approve", args=[experiment.pk]))
    experiment.refresh_from_db()
    assert experiment.approved_at is None


def test_a_variant_without_an_offer_is_a_form_error(marketer_client):
    response = marketer_client.post(
        reverse("support:experiment_new"), {**NEW, "value_en_B": "", "value_de_B": ""}
    )
    assert response.status_code == 400
    assert not Experiment.objects.exists()


def test_the_privacy_officer_approves_and_the_marketing_admin_starts(marketer_client, catalog):
    experiment = created(marketer_client)
    officer = officer_client(catalog)
    officer.post(reverse("support:experiment_approve", args=[experiment.pk]))
    marketer_client.post(reverse("support:experiment_start", args=[experiment.pk]))
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    page = marketer_client.get(reverse("support:experiment", args=[experiment.pk]))
    assert "Not enough data yet" in page.content.decode()


def test_the_page_speaks_german(marketer_client):
    experiment = created(marketer_client)
    page = marketer_client.get(reverse("support:experiment", args=[experiment.pk]), HTTP_ACCEPT_LANGUAGE="de")
    assert "Noch nicht genug Daten" in page.content.decode()


def test_the_pages_say_they_are_german_when_they_are(marketer_client):
    experiment = created(marketer_client)
    for url in (reverse("support:experiments"), reverse("support:experiment", args=[experiment.pk])):
        assert '<html lang="de">' in marketer_client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()


def test_a_marketing_admin_cannot_approve_their_own_experiment(marketer_client):
    experiment = created(marketer_client)
    response = marketer_client.post(reverse("support:experiment_approve", args=[experiment.pk]))
    assert response.status_code == 403
    experiment.refresh_from_db()
    assert experiment.approved_at is None


@pytest.mark.parametrize("door", ["support:experiment_start", "support:experiment_stop"])
def test_a_privacy_officer_cannot_start_or_stop(marketer_client, catalog, door):
    experiment = created(marketer_client)
    assert officer_client(catalog).post(reverse(door, args=[experiment.pk])).status_code == 403


def test_a_privacy_officer_cannot_create(catalog):
    assert officer_client(catalog).post(reverse("support:experiment_new"), NEW).status_code == 403
    assert not Experiment.objects.exists()


@pytest.mark.parametrize("door", ["support:experiments", "support:experiment_new"])
def test_a_support_agent_is_refused(agent_client, catalog, door):
    assert agent_client.get(reverse(door)).status_code == 403


def test_an_unauthenticated_caller_is_sent_to_sign_in(client, catalog):
    response = client.post(reverse("support:experiment_new"), NEW)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))
    assert not Experiment.objects.exists()


def test_stopping_with_a_winner_publishes_it(marketer_client, catalog):
    experiment = created(marketer_client)
    officer_client(catalog).post(reverse("support:experiment_approve", args=[experiment.pk]))
    marketer_client.post(reverse("support:experiment_start", args=[experiment.pk]))
    marketer_client.post(reverse("support:experiment_stop", args=[experiment.pk]), {"winner": "B"})
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.STOPPED
    assert current_notice_version("topic:offers") == experiment.published_version
    assert not experiment.published_version.material
