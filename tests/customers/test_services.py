import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from apps.customers.models import Customer
from apps.customers.services import customer_upsert, ensure_login_account, mark_phone_verified

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


def test_a_new_phone_number_is_no_longer_verified(db):
    customer, _ = customer_upsert(external_id="c-4", phone="+4915100000001")
    mark_phone_verified(customer=customer)
    customer, _ = customer_upsert(external_id="c-4", phone="+4915100000002")
    customer.refresh_from_db()
    assert customer.phone_verified_at is None


def test_the_same_phone_number_stays_verified(db):
    customer, _ = customer_upsert(external_id="c-5", phone="+4915100000001")
    mark_phone_verified(customer=customer)
    customer_upsert(external_id="c-5", phone=" +4915100000001 ", name="Ada")
    customer.refresh_from_db()
    assert customer.phone_verified_at is not None


def test_a_new_email_address_ends_the_login_account_of_the_old_one(db):
    customer, _ = customer_upsert(external_id="c-6", email="old@example.com")
    account = ensure_login_account(customer=customer)
    customer, _ = customer_upsert(external_id="c-6", email="new@example.com")
    assert customer.user_id is None
    assert not get_user_model().objects.filter(pk=account.pk).exists()


def test_the_same_email_address_in_other_case_keeps_the_login_account(db):
    customer, _ = customer_upsert(external_id="c-7", email="ada@example.com")
    account = ensure_login_account(customer=customer)
    customer, _ = customer_upsert(external_id="c-7", email=" Ada@Example.COM ")
    assert customer.user_id == account.pk
