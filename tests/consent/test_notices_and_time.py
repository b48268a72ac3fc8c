from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from apps.catalog.models import NoticeText, PublishedVersionError
from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance
from apps.consent.selectors import permission_document_at
from apps.consent.services import expire_consents, publish_notice_version, record_choices
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice

pytestmark = pytest.mark.embedded


def record(customer, *choices, source="web"):
    return record_choices(
        customer=customer,
        choices=list(choices),
        provenance=Provenance(source=source, actor="customer"),
    )


def test_a_published_version_cannot_be_edited(catalog):
    version = current_notice_version("location")
    version.material = True
    with pytest.raises(PublishedVersionError):
        version.save()


def test_the_wording_of_a_published_version_cannot_be_edited(catalog):
    text = NoticeText.objects.get(version=current_notice_version("location"), language="en")
    text.what_we_never_do = "Anything goes."
    with pytest.raises(PublishedVersionError):
        text.save()


def test_publishing_pins_a_hash_of_the_wording(catalog):
    version = current_notice_version("location")
    assert version.text_hash == version.compute_text_hash()


def test_a_version_cannot_be_published_twice(catalog):
    with pytest.raises(ValidationError, match="already published"):
        publish_notice_version(version=current_notice_version("location"))


def test_a_material_change_invalidates_consents_under_older_versions(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("location", value={"level": "city"}))
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)
    assert publish_notice_version(version=new) == 1
    event = ConsentEvent.objects.filter(customer=customer).last()
    assert (event.state, event.source, event.notice_version) == ("invalidated", "system", new)
    assert Snapshot.objects.get(customer=customer).document.body["location"]["level"] == "off"


def test_a_non_material_change_keeps_consents(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("location", value={"level": "city"}))
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=False)
    assert publish_notice_version(version=new) == 0
    assert Snapshot.objects.get(customer=customer).document.body["location"]["level"] == "city"


def test_consent_under_the_new_version_survives_invalidation(catalog):
    customer = CustomerFactory()
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)
    publish_notice_version(version=new)
    record(customer, make_choice("location", value={"level": "region"}))
    assert Snapshot.objects.get(customer=customer).document.body["location"]["level"] == "region"


def test_a_time_boxed_consent_expires_by_the_periodic_task(catalog):
    customer = CustomerFactory()
    ends = timezone.now() + timedelta(days=30)
    record(customer, make_choice("location", value={"level": "precise"}, expires_at=ends))
    with time_machine.travel(ends + timedelta(minutes=1)):
        assert expire_consents() == 1
        assert expire_consents() == 0
    snapshot = Snapshot.objects.get(customer=customer)
    assert snapshot.choices["location"]["state"] == "expired"
    assert snapshot.document.body["location"] == {"level": "off", "until": None}
    assert snapshot.next_expiry_at is None


def test_expire_command_reports_what_it_did(catalog, capsys):
    call_command("expire_consents")
    assert "Expired 0 time-boxed consent(s)." in capsys.readouterr().out


def test_nothing_expires_before_its_time(catalog):
    customer = CustomerFactory()
    record(
        customer,
        make_choice("location", value={"level": "city"}, expires_at=timezone.now() + timedelta(days=1)),
    )
    assert expire_consents() == 0


def test_point_in_time_answers_what_was_allowed_then(catalog):
    customer = CustomerFactory()
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        record(customer, make_choice("channel:sms"))
    with time_machine.travel("2026-04-01 12:00Z", tick=False):
        record(customer, make_choice("channel:sms", "withdrawn"))
    march = permission_document_at(customer, timezone.now().replace(year=2026, month=3, day=15))
    april = permission_document_at(customer, timezone.now().replace(year=2026, month=4, day=15))
    assert march.body["channels"]["sms"]["allowed"] is True
    assert april.body["channels"]["sms"]["allowed"] is False


def test_point_in_time_respects_the_end_of_a_time_box_even_before_the_task_ran(catalog):
    customer = CustomerFactory()
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        ends = timezone.now() + timedelta(days=30)
        record(customer, make_choice("location", value={"level": "city"}, expires_at=ends))
    assert permission_document_at(customer, ends - timedelta(days=1)).body["location"]["level"] == "city"
    assert permission_document_at(customer, ends + timedelta(days=1)).body["location"]["level"] == "off"


def test_a_time_box_in_the_past_is_rejected(catalog):
    with pytest.raises(ValidationError, match="must be in the future"):
        record(
            CustomerFactory(),
            make_choice("location", value={"level": "city"}, expires_at=timezone.now() - timedelta(days=1)),
        )


def test_publishing_again_finishes_an_invalidation_that_stopped_part_way(catalog, capsys):
    customer = CustomerFactory()
    record(customer, make_choice("location", value={"level": "city"}))
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)
    new.mark_published()  # as if the process died right after publishing
    call_command("publish_notice", "location", str(new.number))
    assert "1 consent(s) invalidated now" in capsys.readouterr().out
    assert Snapshot.objects.get(customer=customer).choices["location"]["state"] == "invalidated"
    call_command("publish_notice", "location", str(new.number))
    assert "0 consent(s) invalidated now" in capsys.readouterr().out
