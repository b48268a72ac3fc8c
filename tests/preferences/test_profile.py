"""The page's "What you tell us" and "What we know about you" sections."""

import pytest

from apps.consent.models import ConsentEvent
from apps.consent.services import report_inferences
from apps.customers.models import Inference, ProfileAnswer
from tests.factories import RUNNER

from .conftest import nv

PAGE = "/preferences/"


@pytest.fixture
def asked(questions, signed_in):
    return signed_in


def answers(customer):
    return dict(ProfileAnswer.objects.filter(customer=customer).values_list("question", "answer"))


def test_every_question_is_shown_with_its_options_and_why_we_ask(asked):
    html = asked.get(PAGE).content.decode()

    assert 'id="profile"' in html
    assert 'name="profile:interests" value="hiking"' in html
    assert 'type="radio" name="profile:size" value="m"' in html
    assert "Why we ask" in html


def test_a_plain_post_keeps_the_answers_and_redirects_to_the_section(asked, customer):
    response = asked.post(
        PAGE,
        {
            "section": "profile",
            "profile:size": "m",
            "profile:interests": ["hiking", "running"],
            **nv("profile:size", "profile:interests"),
        },
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#profile")
    assert answers(customer) == {"size": ["m"], "interests": ["hiking", "running"]}
    event = ConsentEvent.objects.filter(customer=customer, purpose="profile:size").get()
    assert event.evidence["section"] == "profile"


def test_an_htmx_post_answers_with_the_section(asked, customer):
    response = asked.post(
        PAGE, {"section": "profile", "profile:size": "l", **nv("profile:size")}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert html.startswith('<section id="profile"')
    assert 'value="l" id="question-size-l" checked' in html


def test_posting_the_same_answer_again_records_nothing(asked, customer):
    body = {"section": "profile", "profile:size": "m", **nv("profile:size")}
    asked.post(PAGE, body)

    asked.post(PAGE, body)

    assert ConsentEvent.objects.filter(customer=customer, purpose="profile:size").count() == 1


def test_forget_this_deletes_the_answer(asked, customer):
    asked.post(PAGE, {"section": "profile", "profile:size": "m", **nv("profile:size")})

    asked.post(PAGE, {"section": "profile", "profile:size": "m", "forget": "size", **nv("profile:size")})

    assert answers(customer) == {}
    assert ConsentEvent.objects.filter(customer=customer, purpose="profile:size").last().state == "withdrawn"


def test_an_option_not_offered_is_refused_and_nothing_kept(asked, customer):
    response = asked.post(PAGE, {"section": "profile", "profile:size": "xxl", **nv("profile:size")})

    assert response.status_code == 400
    assert answers(customer) == {}


def test_what_we_know_lists_answers_and_inferences_per_purpose(asked, customer):
    asked.post(PAGE, {"section": "profile", "profile:size": "m", **nv("profile:size")})
    report_inferences(customer=customer, inferences=[RUNNER])

    html = asked.get(PAGE).content.decode()

    known = html[html.index('id="known"') :]
    assert "profile:size: M" in known  # the test catalog's notice title is the purpose
    assert "Runs often" in known
    assert "inferred from purchases" in known


def test_this_is_wrong_removes_an_inference(asked, customer):
    report_inferences(customer=customer, inferences=[RUNNER])

    response = asked.post(PAGE, {"action": "remove_inference", "code": "runner", "removal": "wrong"})

    assert response.status_code == 302
    assert Inference.objects.get().removal == "wrong"
    assert "Runs often" not in asked.get(PAGE).content.decode()


def test_a_removal_without_a_reason_is_refused(asked, customer):
    report_inferences(customer=customer, inferences=[RUNNER])

    response = asked.post(PAGE, {"action": "remove_inference", "code": "runner", "removal": "bored"})

    assert response.status_code == 400
    assert Inference.objects.get().removed_at is None


def test_the_page_in_german_shows_german_option_labels(asked, customer):
    asked.post("/language/", {"language": "de", "next": PAGE})

    html = asked.get(PAGE).content.decode()

    assert "Hiking (de)" in html
    assert "Was wir über Sie wissen" in html
