"""Creating, approving, starting and stopping an experiment; assignment; choices recorded under a variant."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.catalog.models import NoticeText
from apps.catalog.selectors import catalog_rules, current_notice_version
from apps.consent.rules import Choice, Provenance
from apps.consent.services import record_choices
from apps.customers.models import Exposure
from apps.customers.services import record_exposures
from apps.experiments import selectors, services
from apps.experiments.models import Experiment
from tests.factories import CustomerFactory, make_choice

from .conftest import SHORT, STOCK, offer, started

WEB = Provenance(source="web", actor="customer")


def variant_version(experiment, label):
    return experiment.variants.get(label=label).notice_version


def test_a_draft_cannot_start_without_a_privacy_officers_approval(experiment, marketer):
    with pytest.raises(ValidationError, match="privacy officer must approve"):
        services.start_experiment(experiment=experiment, staff=marketer)
    assert not variant_version(experiment, "A").is_published


def test_variants_that_fail_the_lint_cannot_be_approved(catalog, marketer, officer):
    same = services.create_experiment(
        staff=marketer,
        name="Same twice",
        purpose="topic:offers",
        variants=[services.VariantSpec(SHORT, 50), services.VariantSpec(SHORT, 50)],
    )
    with pytest.raises(ValidationError, match="Two variants say the same"):
        services.approve_experiment(experiment=same, staff=officer)
    same.refresh_from_db()
    assert same.approved_at is None


def test_wording_changed_after_approval_needs_approval_again(experiment, marketer, officer):
    services.approve_experiment(experiment=experiment, staff=officer)
    text = NoticeText.objects.get(version=variant_version(experiment, "B"), language="en")
    text.what_you_get = "Something the officer never read."
    text.save()
    with pytest.raises(ValidationError, match="privacy officer must approve"):
        services.start_experiment(experiment=experiment, staff=marketer)


@pytest.mark.parametrize("weights", [[50, 40], [100, 0]])
def test_a_split_that_is_not_100_percent_with_a_share_each_is_refused(catalog, marketer, weights):
    with pytest.raises(ValidationError, match="add up to 100"):
        services.create_experiment(
            staff=marketer,
            name="Bad split",
            purpose="topic:offers",
            variants=[services.VariantSpec(SHORT, weights[0]), services.VariantSpec(STOCK, weights[1])],
        )
    assert not Experiment.objects.exists()


def test_a_started_experiments_variants_are_accepted_by_the_write_path_yet_are_not_current(
    experiment, marketer, officer
):
    current = current_notice_version("topic:offers")
    started(experiment, marketer, officer)
    assert current_notice_version("topic:offers") == current
    assert catalog_rules().current_version("topic:offers").id == current.pk
    customer = CustomerFactory()
    version = variant_version(experiment, "B")
    record_choices(
        customer=customer,
        choices=[Choice("topic:offers", "given", version.pk, {"channels": ["email"]})],
        provenance=WEB,
    )
    assert customer.consent_events.get().notice_version == version


def test_only_one_experiment_runs_per_purpose(experiment, catalog, marketer, officer):
    started(experiment, marketer, officer)
    second = services.create_experiment(
        staff=marketer,
        name="Again",
        purpose="topic:offers",
        variants=[services.VariantSpec(SHORT, 50), services.VariantSpec(STOCK, 50)],
    )
    services.approve_experiment(experiment=second, staff=officer)
    with pytest.raises(ValidationError, match="Another experiment on this purpose is running"):
        services.start_experiment(experiment=second, staff=marketer)


def test_assignment_is_sticky_and_follows_the_split(experiment, marketer, officer):
    experiment = started(experiment, marketer, officer)
    arms = Counter(selectors.assigned_variant(experiment, customer_id).label for customer_id in range(4000))
    again = Counter(selectors.assigned_variant(experiment, customer_id).label for customer_id in range(4000))
    assert arms == again
    assert 1850 < arms["A"] < 2150


def test_assignment_depends_on_the_key(experiment, marketer, officer, settings):
    experiment = started(experiment, marketer, officer)
    before = [selectors.assigned_variant(experiment, n).label for n in range(200)]
    settings.EXPERIMENT_ASSIGNMENT_KEY = "another key"
    assert [selectors.assigned_variant(experiment, n).label for n in range(200)] != before


def test_a_customer_who_already_answered_is_not_asked_again_because_of_an_experiment(
    experiment, marketer, officer
):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("topic:offers", "refused")],
        provenance=WEB,
    )
    current = current_notice_version("topic:offers").pk
    started(experiment, marketer, officer)
    choices = customer.consent_snapshot.choices
    assert selectors.versions_shown(customer.pk, choices, {"topic:offers": current}) == {
        "topic:offers": current
    }


def test_a_customer_who_answered_under_their_variant_keeps_seeing_it(experiment, marketer, officer):
    experiment = started(experiment, marketer, officer)
    customer = CustomerFactory()
    mine = selectors.assigned_variant(experiment, customer.pk).notice_version_id
    record_choices(
        customer=customer,
        choices=[Choice("topic:offers", "refused", mine)],
        provenance=WEB,
    )
    current = current_notice_version("topic:offers").pk
    shown = selectors.versions_shown(
        customer.pk, customer.consent_snapshot.choices, {"topic:offers": current}
    )
    assert shown == {"topic:offers": mine}


def shown_and_chosen(experiment, label, shown, opted_in, *, withdrawn=0):
    version = variant_version(experiment, label)
    now = timezone.now()
    for n in range(shown):
        customer = CustomerFactory()
        record_exposures(customer_id=customer.pk, notice_version_ids=[version.pk], surface="page", at=now)
        if n < opted_in:
            record_choices(
                customer=customer,
                choices=[Choice("topic:offers", "given", version.pk, {"channels": ["email"]})],
                provenance=WEB,
            )
        if n < withdrawn:
            record_choices(
                customer=customer,
                choices=[Choice("topic:offers", "withdrawn", version.pk)],
                provenance=WEB,
            )


def rolled_up(experiment) -> dict[str, selectors.Arm]:
    """The arms as the page sees them once the rollup has run (after the settle time)."""
    services.roll_up_arms(now=timezone.now() + timedelta(minutes=5))
    return {arm.label: arm for arm in selectors.arm_figures(experiment)}


def test_the_opt_in_rate_counts_customers_shown_the_variant(experiment, marketer, officer):
    experiment = started(experiment, marketer, officer)
    shown_and_chosen(experiment, "B", shown=5, opted_in=2, withdrawn=1)
    arm = rolled_up(experiment)["B"]
    assert arm.shown == 5
    assert arm.counts["opt_in"] == (2, 5)
    assert arm.counts["withdrawal"] == (1, 2)
    assert Exposure.objects.count() == 5


def test_too_few_customers_say_not_enough_data_yet(experiment, marketer, officer):
    experiment = started(experiment, marketer, officer)
    shown_and_chosen(experiment, "A", shown=3, opted_in=1)
    rolled_up(experiment)
    [line] = selectors.verdicts(experiment, selectors.results(experiment))
    assert line.startswith("Not enough data yet")


def test_a_clear_lift_is_said_plainly(experiment, marketer, officer, settings):
    settings.EXPERIMENT_MIN_PER_ARM = 40
    experiment = started(experiment, marketer, officer)
    shown_and_chosen(experiment, "A", shown=40, opted_in=4)
    shown_and_chosen(experiment, "B", shown=40, opted_in=36)
    rolled_up(experiment)
    [line] = selectors.verdicts(experiment, selectors.results(experiment))
    assert line.startswith("B beats A by 80.0 points (95 % interval ")


def test_a_winner_differing_from_the_current_notice_in_what_you_get_alone_is_published_not_material(
    catalog, marketer, officer
):
    offers = [
        offer("Alerts in your size.", "Hinweise in Ihrer Größe."),
        offer("Two offers a week.", "Zwei Angebote pro Woche."),
    ]
    experiment = services.create_experiment(
        staff=marketer,
        name="From the current wording",
        purpose="topic:offers",
        variants=services.variants_from_current("topic:offers", offers),
    )
    experiment = started(experiment, marketer, officer)
    services.stop_experiment(experiment=experiment, staff=marketer, winner="B")
    current = current_notice_version("topic:offers")
    experiment.refresh_from_db()
    assert experiment.published_version == current
    assert not current.material
    assert current.texts.get(language="de").what_you_get == "Zwei Angebote pro Woche."
    assert current.text_hash == variant_version(experiment, "B").text_hash
    assert experiment.stop_reason == Experiment.StopReason.WINNER


def test_a_winner_that_adds_an_example_to_the_current_notice_is_published_with_it_not_material(
    catalog, marketer, officer
):
    now = {text.language: text.what_you_get for text in current_notice_version("topic:offers").texts.all()}
    offers = [
        offer(now["en"], now["de"]),
        offer(now["en"], now["de"], "“20 % off boots until Sunday.”", "„20 % auf Stiefel bis Sonntag.“"),
    ]
    experiment = services.create_experiment(
        staff=marketer,
        name="Does an example convince?",
        purpose="topic:offers",
        variants=services.variants_from_current("topic:offers", offers),
    )
    experiment = started(experiment, marketer, officer)
    services.stop_experiment(experiment=experiment, staff=marketer, winner="B")
    current = current_notice_version("topic:offers")
    experiment.refresh_from_db()
    assert experiment.published_version == current
    assert not current.material
    assert current.texts.get(language="en").example == "“20 % off boots until Sunday.”"
    assert current.texts.get(language="de").example == "„20 % auf Stiefel bis Sonntag.“"
    assert current.text_hash == variant_version(experiment, "B").text_hash


def test_a_winner_that_says_more_than_the_current_notice_is_published_as_material(
    experiment, marketer, officer
):
    experiment = started(experiment, marketer, officer)
    services.stop_experiment(experiment=experiment, staff=marketer, winner="B")
    current = current_notice_version("topic:offers")
    assert current.material
    assert current.texts.get(language="en").what_we_do == STOCK["en"]["what_we_do"]


def test_after_the_stop_everyone_sees_the_current_version(experiment, marketer, officer):
    experiment = started(experiment, marketer, officer)
    services.stop_experiment(experiment=experiment, staff=marketer)
    current = current_notice_version("topic:offers").pk
    assert selectors.versions_shown(1, {}, {"topic:offers": current}) == {"topic:offers": current}


def test_a_guardrail_breach_stops_the_experiment_and_mails_the_admins(
    experiment, marketer, officer, settings, time_machine
):
    settings.EXPERIMENT_MIN_PER_ARM = 30
    experiment = started(experiment, marketer, officer)
    shown_and_chosen(experiment, "A", shown=30, opted_in=30, withdrawn=0)
    shown_and_chosen(experiment, "B", shown=30, opted_in=30, withdrawn=25)
    time_machine.move_to(timezone.now() + timedelta(minutes=5))  # past the rollup's settle time
    [stopped] = services.stop_on_guardrail_breaches()
    assert stopped.stop_reason == Experiment.StopReason.GUARDRAIL
    assert selectors.verdicts(stopped, selectors.results(stopped)) == [
        "Stopped: B raised 30-day withdrawals."
    ]
    [message] = mail.outbox
    assert "marketer@staff.example" in message.to
    assert "Stopped: B raised 30-day withdrawals." in message.body
    assert "Gestoppt: B hat Widerrufe innerhalb von 30 Tagen erhöht." in message.body


def test_no_breach_leaves_the_experiment_running(experiment, marketer, officer, settings, time_machine):
    settings.EXPERIMENT_MIN_PER_ARM = 30
    experiment = started(experiment, marketer, officer)
    shown_and_chosen(experiment, "A", shown=30, opted_in=10, withdrawn=1)
    shown_and_chosen(experiment, "B", shown=30, opted_in=10, withdrawn=1)
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    assert services.stop_on_guardrail_breaches() == []
    assert Experiment.objects.get().status == Experiment.Status.RUNNING


def test_withdrawals_after_thirty_days_are_not_counted(experiment, marketer, officer, time_machine):
    experiment = started(experiment, marketer, officer)
    shown_and_chosen(experiment, "A", shown=1, opted_in=1)
    time_machine.move_to(timezone.now() + timedelta(days=31))
    customer = Exposure.objects.get().customer
    record_choices(
        customer=customer,
        choices=[Choice("topic:offers", "withdrawn", variant_version(experiment, "A").pk)],
        provenance=WEB,
    )
    assert rolled_up(experiment)["A"].counts["withdrawal"] == (0, 1)
