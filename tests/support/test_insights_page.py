"""The insights page: for the Marketing admin and privacy officers, aggregates only, in English and German."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.experiments.services import VariantSpec, create_experiment
from apps.insights.services import recount_shares, roll_up
from apps.support.models import StaffAccess
from tests.experiments.conftest import SHORT, STOCK, started
from tests.factories import CustomerFactory, make_choice

from .conftest import make_staff, sign_in

URL = reverse("support:insights")


@pytest.fixture
def marketing_client(client, db):
    return sign_in(client, make_staff("marketing"))


@pytest.fixture
def choices_made(catalog):
    """Five customers, two of whom allow text messages and one shares their city; rolled up."""
    customers = CustomerFactory.create_batch(5)
    for customer in customers[:2]:
        record_choices(
            customer=customer, choices=[make_choice("channel:sms")], provenance=Provenance("web", "customer")
        )
    record_choices(
        customer=customers[0],
        choices=[make_choice("location", value={"level": "city"})],
        provenance=Provenance("web", "customer"),
    )
    roll_up(now=timezone.now() + timedelta(minutes=5))
    recount_shares()
    return customers


def test_the_marketing_admin_sees_the_shares_in_one_screen(marketing_client, choices_made):
    html = marketing_client.get(URL).content.decode()
    assert "<strong>40.0 %</strong>" in html  # two of five allow text messages
    assert "<strong>20.0 %</strong>" in html  # one shares their location
    assert 'role="img"' in html


def test_the_page_speaks_german_to_a_german_browser(marketing_client, choices_made):
    html = marketing_client.get(URL, headers={"accept-language": "de"}).content.decode()
    assert '<html lang="de">' in html
    assert "Was Kundinnen und Kunden wählen" in html
    assert "<strong>40,0 %</strong>" in html


def test_the_staff_navigation_speaks_german_to_a_german_browser(marketing_client, choices_made):
    html = marketing_client.get(URL, headers={"accept-language": "de"}).content.decode()
    assert '<header class="site-header support-header" lang="de">' in html
    assert "Kunden finden</a>" in html
    assert "Experimente</a>" in html
    assert "marketing-staff abmelden</button>" in html


def test_the_page_says_what_the_latest_experiments_results_say(marketing_client, choices_made):
    marketer = make_staff("marketing", username="marketer")
    experiment = create_experiment(
        staff=marketer,
        name="Offers by email",
        purpose="topic:offers",
        variants=[VariantSpec(SHORT, 50), VariantSpec(STOCK, 50)],
    )
    started(experiment, marketer, make_staff("officer", username="officer"))

    html = marketing_client.get(URL).content.decode()

    assert f'<a href="{reverse("support:experiment", args=[experiment.pk])}">Offers by email</a>' in html
    assert "Not enough data yet" in html


def test_a_support_agent_is_refused(client, db):
    sign_in(client, make_staff("agent"))
    assert client.get(URL).status_code == 403


def test_opening_the_page_logs_no_customer_access(marketing_client, choices_made):
    marketing_client.get(URL)
    assert not StaffAccess.objects.exists()


def test_an_unknown_filter_is_refused_with_what_is_wrong(marketing_client, catalog):
    response = marketing_client.get(URL, {"weeks": "7"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
