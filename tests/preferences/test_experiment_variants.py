"""The preference page asks the experiments app which notice version to show: a customer's arm while an
experiment runs on a purpose they have not answered, the current version otherwise."""

from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.models import Exposure
from apps.experiments import selectors, services
from tests.experiments.conftest import SHORT, STOCK
from tests.factories import make_choice
from tests.support.conftest import make_staff

WEB = Provenance(source="web", actor="customer")


def running():
    marketer = make_staff("marketing", username="marketer")
    experiment = services.create_experiment(
        staff=marketer,
        name="Offers",
        purpose="topic:offers",
        variants=[services.VariantSpec(SHORT, 50), services.VariantSpec(STOCK, 50)],
    )
    services.approve_experiment(experiment=experiment, staff=make_staff("officer", username="officer"))
    services.start_experiment(experiment=experiment, staff=marketer)
    return experiment


def test_the_page_shows_the_customers_arm_and_records_its_exposure(signed_in, customer):
    variant = selectors.assigned_variant(running(), customer.pk)
    offer = {"A": SHORT, "B": STOCK}[variant.label]["en"]["what_you_get"]
    response = signed_in.get(reverse("preferences:page"))
    assert offer in response.content.decode()
    assert f'name="nv:topic:offers" value="{variant.notice_version_id}"' in response.content.decode()
    assert Exposure.objects.filter(customer=customer, notice_version=variant.notice_version).exists()


def test_a_customer_who_answered_before_sees_the_current_wording(signed_in, customer):
    record_choices(
        customer=customer,
        choices=[make_choice("topic:offers", "refused")],
        provenance=WEB,
    )
    running()
    response = signed_in.get(reverse("preferences:page")).content.decode()
    assert f'name="nv:topic:offers" value="{current_notice_version("topic:offers").pk}"' in response
    assert STOCK["en"]["what_you_get"] not in response
    assert SHORT["en"]["what_you_get"] not in response
