"""The write path's one hook for the delivery side: a dotted path called after commit (never inside it)."""

import pytest

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

CALLS = []


def note_outbox():
    CALLS.append("called")


@pytest.fixture
def hook(settings):
    settings.CONSENT_ON_OUTBOX_COMMIT = "tests.consent.test_outbox_hook.note_outbox"
    CALLS.clear()
    return CALLS


def grant_sms(customer):
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )


def test_the_hook_runs_after_commit_when_an_outbox_row_was_written(
    catalog, hook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        grant_sms(CustomerFactory())
        assert hook == []  # not inside the transaction

    for callback in callbacks:
        callback()
    assert hook == ["called"]


def test_the_hook_does_not_run_when_the_permissions_did_not_change(
    catalog, hook, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    grant_sms(customer)

    with django_capture_on_commit_callbacks(execute=True):
        grant_sms(customer)  # the same answer again: no new document, no outbox row

    assert hook == []


def test_no_hook_configured_means_nothing_is_called(
    catalog, hook, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grant_sms(CustomerFactory())
    assert hook == ["called"]  # wired, the hook runs

    settings.CONSENT_ON_OUTBOX_COMMIT = ""
    with django_capture_on_commit_callbacks(execute=True):
        recorded = grant_sms(CustomerFactory())

    assert recorded.document_changed  # an outbox row was written, and nobody was told
    assert hook == ["called"]
