"""Delivery status for one customer, the retry action, and erasure's last document to the destinations."""

from django.urls import reverse
from django.utils import timezone

from apps.consent.rules import Provenance
from apps.consent.services import erase_customer, record_choices
from apps.delivery.models import Delivery, DeliveryCursor
from apps.delivery.services import fan_out_outbox, payload
from apps.support.models import StaffAccess
from tests.delivery.factories import DestinationFactory
from tests.factories import CustomerFactory, make_choice


def grant_sms(customer):
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )


def test_the_panel_says_a_new_document_waits_in_the_outbox(agent_client, catalog):
    customer = CustomerFactory()
    DestinationFactory(name="crm")
    grant_sms(customer)
    panel = agent_client.get(reverse("support:deliveries", args=[customer.pk])).context["panel"]
    assert panel.current_version == 1
    assert panel.waiting_for_fan_out is True
    assert panel.destinations[0].latest is None


def test_the_panel_shows_per_destination_delivered_pending_and_dead_with_its_error(agent_client, catalog):
    customer = CustomerFactory()
    crm, esp = DestinationFactory(name="crm"), DestinationFactory(name="esp")
    grant_sms(customer)
    fan_out_outbox()
    Delivery.objects.filter(destination=crm).update(status="delivered", delivered_at=timezone.now())
    DeliveryCursor.objects.filter(destination=crm, customer=customer).update(
        delivered_version=1, delivered_at=timezone.now()
    )
    Delivery.objects.filter(destination=esp).update(
        status="dead", attempts=9, last_status_code=500, last_error="500 Internal Server Error"
    )
    response = agent_client.get(reverse("support:deliveries", args=[customer.pk]))
    rows = {row.destination.name: row for row in response.context["panel"].destinations}
    assert rows["crm"].delivered_version == 1
    assert rows["crm"].latest.status == "delivered"
    assert rows["esp"].delivered_version is None
    assert [dead.last_status_code for dead in rows["esp"].dead] == [500]
    body = response.content.decode()
    assert "500 Internal Server Error" in body
    assert "Retry delivery" in body
    assert StaffAccess.objects.filter(customer=customer, what="deliveries").exists()


def test_an_agent_retries_a_dead_delivery(agent_client, agent, catalog):
    customer = CustomerFactory()
    DestinationFactory()
    grant_sms(customer)
    fan_out_outbox()
    dead = Delivery.objects.get(customer=customer)
    Delivery.objects.filter(pk=dead.pk).update(status="dead", attempts=9, last_error="timeout")
    response = agent_client.post(reverse("support:retry_delivery", args=[customer.pk, dead.pk]))
    assert response.status_code == 302
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    entry = StaffAccess.objects.get(what="retry_delivery")
    assert (entry.staff, entry.customer, entry.detail) == (agent, customer, f"delivery={dead.pk}")


def test_a_retry_never_touches_another_customers_delivery(agent_client, catalog):
    mine, theirs = CustomerFactory(), CustomerFactory()
    DestinationFactory()
    grant_sms(theirs)
    fan_out_outbox()
    other = Delivery.objects.get(customer=theirs)
    Delivery.objects.filter(pk=other.pk).update(status="dead")
    agent_client.post(reverse("support:retry_delivery", args=[mine.pk, other.pk]))
    other.refresh_from_db()
    assert other.status == "dead"
    assert not StaffAccess.objects.filter(what="retry_delivery").exists()


def test_erasure_sends_every_destination_a_last_document_that_allows_nothing(officer, catalog):
    customer = CustomerFactory()
    destination = DestinationFactory(identifiers=["external_id", "email"])
    grant_sms(customer)
    fan_out_outbox()
    erase_customer(customer=customer, source="support_agent", actor=f"staff:{officer.pk}")
    fan_out_outbox()
    last = Delivery.objects.filter(customer=customer, destination=destination).latest("version")
    sent = payload(destination, last)
    assert sent["data"]["channels"]["sms"]["allowed"] is False
    # The erased email is not sent; the brand's external id still lets the destination find the person.
    assert sent["data"]["customer"] == {"external_id": customer.external_id}
