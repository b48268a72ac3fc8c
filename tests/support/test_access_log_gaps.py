"""What the staff access log must hold besides opened pages: who appeared in a search, refused change posts."""

from django.urls import reverse

from apps.support.models import StaffAccess
from tests.factories import CustomerFactory


def test_each_customer_shown_in_search_results_gets_a_row(agent_client, agent, db):
    shown = [CustomerFactory(name=f"Ada Byron {n}") for n in range(2)]
    CustomerFactory(name="Grace Hopper")

    agent_client.get(reverse("support:search"), {"q": "Ada Byron"})

    rows = StaffAccess.objects.filter(what=StaffAccess.What.SEARCH_RESULT)
    assert sorted(row.customer_id for row in rows) == sorted(customer.pk for customer in shown)
    assert {row.staff for row in rows} == {agent}
    assert all("Ada" not in row.detail for row in rows)


def test_a_refused_change_post_is_logged_with_the_fields_not_the_values(
    agent_client, agent, customer_with_history
):
    agent_client.post(
        reverse("support:change", args=[customer_with_history.pk]),
        {"channel:sms|answer": "no", "how_asked": "phone", "note": ""},  # the note is required
    )

    entry = StaffAccess.objects.get(what=StaffAccess.What.REFUSED_CHANGE)
    assert (entry.staff, entry.customer, entry.detail) == (agent, customer_with_history, "note")


def test_a_refused_erasure_is_logged(officer_client, officer, customer_with_history):
    officer_client.post(reverse("support:erase", args=[customer_with_history.pk]), {"how_asked": "phone"})

    entry = StaffAccess.objects.get(what=StaffAccess.What.REFUSED_CHANGE)
    assert (entry.staff, entry.customer, entry.detail) == (officer, customer_with_history, "confirm note")


def test_a_refused_retry_is_logged(agent_client, agent, customer_with_history):
    agent_client.post(reverse("support:retry_delivery", args=[customer_with_history.pk, 999999]))

    entry = StaffAccess.objects.get(what=StaffAccess.What.REFUSED_CHANGE)
    assert (entry.staff, entry.customer, entry.detail) == (agent, customer_with_history, "delivery=999999")
