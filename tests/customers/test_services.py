import pytest
from django.core.exceptions import ValidationError

from apps.customers.models import Customer
from apps.customers.services import customer_upsert

pytestmark = pytest.mark.embedded


def test_upsert_creates_then_updates_by_external_id(db):
    customer_upsert(external_id="c-1", email="Ada@Example.com")
    customer, created = customer_upsert(external_id="c-1", email="ada@example.org", locale="de")
    assert not created
    assert (customer.email, customer.locale) == ("ada@example.org", "de")
    assert Customer.objects.count() == 1


def test_a_phone_number_not_in_international_form_is_rejected_and_nothing_is_written(db):
    with pytest.raises(ValidationError) as error:
        customer_upsert(external_id="c-2", phone="0151 1234567")
    assert "international form" in str(error.value.message_dict["phone"])
    assert not Customer.objects.exists()


def test_an_unsupported_locale_is_rejected(db):
    with pytest.raises(ValidationError) as error:
        customer_upsert(external_id="c-3", locale="xx")
    assert "locale" in error.value.message_dict
