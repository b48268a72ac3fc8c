"""Profile answers and inferences: personal data in erasable tables, shared through the write path, referenced
from the ledger and the permission document only by id and keyed hash."""

import json

import pytest
from django.core.exceptions import ValidationError

from apps.consent.models import ConsentEvent, PermissionDocument
from apps.consent.rules import Provenance
from apps.consent.selectors import ledger_breaks, shareable_profile
from apps.consent.services import (
    answer_text,
    erase_customer,
    evidence_hash,
    record_choices,
    remove_customer_inference,
    report_inferences,
)
from apps.customers.models import Inference, ProfileAnswer
from apps.support.selectors import consent_proof
from tests.factories import RUNNER, CustomerFactory, make_choice, set_depth, tell


@pytest.fixture
def customer(questions):
    return CustomerFactory()


def test_an_answer_is_kept_in_the_erasable_table_and_the_ledger_holds_only_its_id_and_keyed_hash(customer):
    recorded = tell(customer, "size", "m")

    kept = ProfileAnswer.objects.get(customer=customer, question="size")
    (event,) = recorded.events
    assert kept.answer == ["m"]
    assert event.value == {"answer_id": kept.pk, "answer_hash": evidence_hash(answer_text(["m"]))}
    assert '"m"' not in json.dumps(event.canonical_body())


def test_an_option_the_question_does_not_offer_is_refused_and_nothing_is_kept(customer):
    with pytest.raises(ValidationError, match="Not an option of this question: xxl"):
        tell(customer, "size", "xxl")

    assert not ProfileAnswer.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_a_one_answer_question_refuses_two(customer):
    with pytest.raises(ValidationError, match="takes one answer"):
        tell(customer, "size", "s", "m")


def test_a_new_answer_replaces_the_old_one_so_proof_shows_the_old_one_erased(customer):
    tell(customer, "interests", "hiking")
    tell(customer, "interests", "climbing", "running")

    events = consent_proof(customer)["events"]
    assert [event["answer"] for event in events] == ["[erased]", ["climbing", "running"]]
    assert ProfileAnswer.objects.get().answer == ["climbing", "running"]


def test_withdrawing_an_answer_forgets_it(customer):
    tell(customer, "size", "m")

    record_choices(
        customer=customer,
        choices=[make_choice("profile:size", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )

    assert not ProfileAnswer.objects.exists()


def test_the_document_references_the_event_that_shares_each_answer_never_the_answer(customer):
    recorded = tell(customer, "size", "l")

    profile = recorded.document.body["profile"]
    assert profile == {"answers": {"size": recorded.events[0].pk}, "inferences_revision": 0}


def test_a_customer_without_answers_or_inferences_keeps_the_document_shape(customer):
    recorded = record_choices(
        customer=customer,
        choices=[make_choice("channel:push")],
        provenance=Provenance(source="web", actor="customer"),
    )

    assert "profile" not in recorded.document.body


def test_at_depth_none_nothing_is_shareable(customer):
    tell(customer, "size", "m")
    report_inferences(customer=customer, inferences=[RUNNER])

    body = PermissionDocument.objects.filter(customer=customer).last().body

    assert shareable_profile(customer.pk, body) == {
        "depth": "none",
        "answers": {"size": None, "interests": None},
        "inferences": [],
    }


def test_at_depth_interests_answers_are_shareable_but_not_inferences(customer):
    tell(customer, "size", "m")
    tell(customer, "household", "family")
    report_inferences(customer=customer, inferences=[RUNNER])

    body = set_depth(customer, "interests").document.body

    shared = shareable_profile(customer.pk, body)
    assert shared["answers"] == {"size": ["m"], "interests": None}  # household may not go downstream
    assert shared["inferences"] == []


def test_at_depth_activity_inferences_are_shareable_too(customer):
    tell(customer, "size", "m")
    report_inferences(customer=customer, inferences=[RUNNER])

    body = set_depth(customer, "activity").document.body

    assert shareable_profile(customer.pk, body)["inferences"] == [RUNNER]


def test_reported_inferences_write_a_new_document_version(customer):
    before = tell(customer, "size", "m").document.version

    assert report_inferences(customer=customer, inferences=[RUNNER]) is True

    document = PermissionDocument.objects.filter(customer=customer).last()
    assert document.version == before + 1
    assert document.body["profile"]["inferences_revision"] == 1


def test_the_same_report_again_changes_nothing(customer):
    report_inferences(customer=customer, inferences=[RUNNER])

    assert report_inferences(customer=customer, inferences=[RUNNER]) is False


def test_an_inference_the_customer_removed_is_not_brought_back_by_a_later_report(customer):
    report_inferences(customer=customer, inferences=[RUNNER])
    remove_customer_inference(customer=customer, code="runner", removal="wrong")

    report_inferences(customer=customer, inferences=[RUNNER])

    kept = Inference.objects.get()
    assert (kept.removal, kept.removed_at is not None) == ("wrong", True)
    body = set_depth(customer, "activity").document.body
    assert shareable_profile(customer.pk, body)["inferences"] == []


def test_a_bad_inference_is_refused_by_index_and_field_and_nothing_is_kept(customer):
    bad = {**RUNNER, "code": "hiker", "label": {"de": "nur Deutsch"}, "purpose": "astrology"}

    with pytest.raises(ValidationError) as error:
        report_inferences(customer=customer, inferences=[RUNNER, bad])

    assert set(error.value.message_dict) == {"1/label", "1/purpose"}
    assert not Inference.objects.exists()


def test_a_removal_needs_a_reason(customer):
    report_inferences(customer=customer, inferences=[RUNNER])

    with pytest.raises(ValidationError, match="wrong or dont_use"):
        remove_customer_inference(customer=customer, code="runner", removal="meh")


def test_erasure_removes_every_answer_and_inference_and_the_ledger_still_verifies(customer):
    tell(customer, "size", "m")
    tell(customer, "interests", "hiking", "running")
    report_inferences(customer=customer, inferences=[RUNNER])

    erase_customer(customer=customer, source="support_agent", actor="staff:1")

    assert not ProfileAnswer.objects.exists()
    assert not Inference.objects.exists()
    assert list(ledger_breaks(customer_ids=[customer.pk])) == []
    proof = consent_proof(customer)
    assert proof["ledger"]["verifies"] is True
    assert [event["answer"] for event in proof["events"] if "answer" in event] == ["[erased]", "[erased]"]
