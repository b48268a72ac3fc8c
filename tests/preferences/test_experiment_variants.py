"""The preference page asks the experiments app which notice version to show: a customer's arm while an
experiment runs on a purpose they have not answered, the current version otherwise."""

import hashlib
import json

from django.test import Client
from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance
from apps.consent.services import record_choices
from apps.customers.models import Exposure
from apps.experiments import selectors, services
from tests.experiments.conftest import SHORT, STOCK, texts
from tests.factories import make_choice
from tests.support.conftest import make_staff, sign_in

WEB = Provenance(source="web", actor="customer")


# The same two offers, each with an example of its own.
SHORT_SHOWN = texts(
    SHORT["en"]["what_you_get"],
    SHORT["de"]["what_you_get"],
    en={"example": "“Rain jackets 30 % off, today only.”"},
    de={"example": "„Regenjacken 30 % günstiger, nur heute.“"},
)
STOCK_SHOWN = texts(
    STOCK["en"]["what_you_get"],
    STOCK["de"]["what_you_get"],
    en={"example": "“Your Linen Shirt in size 38 is back — 2 left.”"},
    de={"example": "„Ihr Leinenhemd in Größe 38 ist wieder da — noch 2.“"},
)


def running(a=SHORT, b=STOCK):
    marketer = make_staff("marketing", username="marketer")
    experiment = services.create_experiment(
        staff=marketer,
        name="Offers",
        purpose="topic:offers",
        variants=[services.VariantSpec(a, 50), services.VariantSpec(b, 50)],
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


def chosen_under_arm(customer):
    """The customer says yes to offers by email under their arm of a running experiment with examples."""
    variant = selectors.assigned_variant(running(SHORT_SHOWN, STOCK_SHOWN), customer.pk)
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:email"),
            Choice(
                purpose="topic:offers",
                state="given",
                notice_version_id=variant.notice_version_id,
                value={"channels": ["email"]},
            ),
        ],
        provenance=WEB,
    )
    mine, theirs = (SHORT_SHOWN, STOCK_SHOWN) if variant.label == "A" else (STOCK_SHOWN, SHORT_SHOWN)
    return mine["en"]["example"], theirs["en"]["example"]


def test_the_page_shows_the_example_of_the_customers_arm(signed_in, customer):
    variant = selectors.assigned_variant(running(SHORT_SHOWN, STOCK_SHOWN), customer.pk)
    mine, theirs = (SHORT_SHOWN, STOCK_SHOWN) if variant.label == "A" else (STOCK_SHOWN, SHORT_SHOWN)
    response = signed_in.get(reverse("preferences:page")).content.decode()
    assert f'<p class="example"><strong>For example:</strong> {mine["en"]["example"]}</p>' in response
    assert theirs["en"]["example"] not in response


def test_the_page_shows_the_example_in_german(signed_in, customer):
    variant = selectors.assigned_variant(running(SHORT_SHOWN, STOCK_SHOWN), customer.pk)
    mine = SHORT_SHOWN if variant.label == "A" else STOCK_SHOWN
    signed_in.post(reverse("preferences:language"), {"language": "de", "next": "/"})
    response = signed_in.get(reverse("preferences:page")).content.decode()
    assert f"<strong>Zum Beispiel:</strong> {mine['de']['example']}" in response


def test_a_notice_without_an_example_shows_none(signed_in, customer):
    running()
    assert 'class="example"' not in signed_in.get(reverse("preferences:page")).content.decode()


def test_the_history_and_the_receipt_keep_the_example_the_customer_chose_by(signed_in, customer):
    mine, theirs = chosen_under_arm(customer)
    history = signed_in.get(reverse("preferences:history")).content.decode()
    assert mine in history
    assert theirs not in history
    event = ConsentEvent.objects.get(customer=customer, purpose="topic:offers")
    receipt = json.loads(signed_in.get(reverse("preferences:receipt", args=[event.sequence])).content)
    assert receipt["notice"]["text"]["example"] == mine


def test_proof_shows_the_variants_example_and_its_hash_recomputes_from_it(customer):
    mine, theirs = chosen_under_arm(customer)
    officer = sign_in(Client(), make_staff("officer", username="prover"))
    response = officer.get(reverse("support:proof_json", args=[customer.pk]), {"purpose": "topic:offers"})
    [notice] = json.loads(response.content)["notices"]
    assert notice["notice_content"]["en"]["example"] == mine
    assert theirs not in response.content.decode()
    canonical = json.dumps(
        notice["notice_content"], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == notice["notice_hash"]
    page = officer.get(reverse("support:proof", args=[customer.pk])).content.decode()
    assert f"<strong>For example:</strong> {mine}" in page
