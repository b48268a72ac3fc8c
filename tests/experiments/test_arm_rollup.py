"""The arms' figures the results page shows come from the rollup, and equal a direct count over the exposures,
the ledger and the inbound reports of a seeded history."""

import random
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.consent.models import COMPLAINT_KINDS, ConsentEvent, InboundReport
from apps.consent.rules import Choice, Provenance
from apps.consent.services import record_choices
from apps.customers.models import Exposure
from apps.customers.services import record_exposures
from apps.experiments import selectors, services
from tests.factories import CustomerFactory, make_choice

from .conftest import started

WEB = Provenance("web", "customer")
WINDOW = timedelta(days=30)


def _at(moment, action):
    with time_machine.travel(moment, tick=False):
        action()


def _customer_history(customer, version, rng, start):
    """One customer's weeks around an experiment: shown their variant (maybe after answering it elsewhere),
    opting in or not, choosing a personalization depth, withdrawing, leaving a channel, complaining."""
    shown = start + timedelta(days=rng.randrange(20), hours=rng.randrange(24))
    steps = []
    if rng.random() < 0.1:  # answered under the variant before it was ever shown: not an opt-in it won
        steps.append((shown - timedelta(hours=2), "opt_in"))
    steps.append((shown, "show"))
    if rng.random() < 0.3:
        steps.append((shown + timedelta(days=rng.randrange(10)), "show"))
    opted = shown + timedelta(minutes=5 + rng.randrange(600))
    if rng.random() < 0.6:
        steps.append((opted, "opt_in"))
        if rng.random() < 0.5:
            steps.append((opted + timedelta(days=rng.choice([1, 29, 31, 45])), "withdraw"))
    for _ in range(rng.choice([0, 0, 1, 2])):
        steps.append((shown + timedelta(days=rng.randrange(-5, 40), minutes=7), "depth"))
    if rng.random() < 0.3:
        steps.append((shown + timedelta(days=rng.choice([0, 3, 29, 35]), minutes=9), "leave_channel"))
    for _ in range(rng.choice([0, 0, 1, 2])):
        steps.append((shown + timedelta(days=rng.choice([-2, 2, 20, 33]), minutes=11), "complain"))
    for moment, step in sorted(steps):
        _at(moment, lambda step=step, moment=moment: _act(customer, version, step, rng, moment))


def _act(customer, version, step, rng, moment):
    if step == "show":
        record_exposures(customer_id=customer.pk, notice_version_ids=[version], surface="page", at=moment)
    elif step == "opt_in":
        choice = Choice("topic:offers", "given", version, {"channels": ["email"]})
        record_choices(customer=customer, choices=[choice], provenance=WEB)
    elif step == "withdraw":
        record_choices(
            customer=customer, choices=[Choice("topic:offers", "withdrawn", version)], provenance=WEB
        )
    elif step == "depth":
        depth = rng.choice(["none", "interests", "activity", None])
        choice = (
            make_choice("personalization", "withdrawn")
            if depth is None
            else make_choice("personalization", value={"depth": depth})
        )
        record_choices(customer=customer, choices=[choice], provenance=WEB)
    elif step == "leave_channel":
        record_choices(customer=customer, choices=[make_choice("channel:email", "withdrawn")], provenance=WEB)
    else:
        InboundReport.objects.create(
            source_name="sendgrid",
            provider="sendgrid",
            event_id=f"{customer.pk}-{rng.random()}",
            kind=rng.choice([*sorted(COMPLAINT_KINDS), "group_unsubscribe"]),
            customer=customer,
            channel="email",
            revocation=True,
            outcome=InboundReport.Outcome.RECORDED,
            occurred_at=moment,
            received_at=moment,
        )


@pytest.fixture
def history(experiment, marketer, officer):
    """Thirty customers in two arms over seven weeks, and two never shown a variant, from a fixed seed."""
    experiment = started(experiment, marketer, officer)
    rng, start = random.Random(16), timezone.now() + timedelta(days=1)
    for customer in CustomerFactory.create_batch(2):
        _at(start, lambda customer=customer: _act(customer, 0, "leave_channel", rng, start))
    for number in range(30):
        customer = CustomerFactory()
        version = selectors.assigned_variant(experiment, customer.pk).notice_version_id
        _at(
            start,
            lambda customer=customer: record_choices(
                customer=customer, choices=[make_choice("channel:email")], provenance=WEB
            ),
        )
        _customer_history(customer, version, rng, start + timedelta(minutes=number))
    return experiment, start + timedelta(days=70)


def direct_counts(version) -> Counter:
    """The arm's figures counted straight from every row, as the docs define them."""
    first_shown = {}
    for customer, at in Exposure.objects.filter(notice_version_id=version).values_list(
        "customer_id", "shown_at"
    ):
        first_shown[customer] = min(at, first_shown.get(customer, at))
    events = list(ConsentEvent.objects.filter(customer_id__in=list(first_shown)).order_by("sequence"))
    opted = {}
    for event in events:
        if event.notice_version_id == version and event.state in ("given", "requested"):
            opted.setdefault(event.customer_id, event.recorded_at)
    opted = {customer: at for customer, at in opted.items() if at >= first_shown[customer]}
    least = "none"
    latest_depth = {}
    for event in events:
        if event.purpose == "personalization":
            latest_depth[event.customer_id] = event
    complaints = InboundReport.objects.filter(kind__in=COMPLAINT_KINDS, customer_id__in=list(first_shown))

    def within(at, since):
        return since <= at <= since + WINDOW

    return Counter(
        shown=len(first_shown),
        opt_in=len(opted),
        withdrawal=len(
            {
                e.customer_id
                for e in events
                if e.purpose == "topic:offers"
                and e.state == "withdrawn"
                and e.customer_id in opted
                and within(e.recorded_at, opted[e.customer_id])
            }
        ),
        unsubscribe=len(
            {
                e.customer_id
                for e in events
                if e.purpose.startswith("channel:")
                and e.state == "withdrawn"
                and within(e.recorded_at, first_shown[e.customer_id])
            }
        ),
        complaint=len(
            {r.customer_id for r in complaints if within(r.received_at, first_shown[r.customer_id])}
        ),
        deep=sum(
            1
            for customer in opted
            if customer in latest_depth
            and latest_depth[customer].state == "given"
            and latest_depth[customer].value.get("depth") not in (None, least)
        ),
    )


def test_each_arms_figures_equal_a_direct_count_of_a_seeded_history(history, settings):
    experiment, end = history
    settings.INSIGHTS_BATCH_SIZE = 7  # many small batches: each counts only what is new
    with time_machine.travel(end, tick=False):
        while sum(services.roll_up_arms(batches=1).values()):
            pass

    for arm in selectors.arm_figures(experiment):
        version = experiment.variants.get(label=arm.label).notice_version_id
        direct = direct_counts(version)
        assert direct["shown"] > 5  # the seed exercises the arm
        assert direct["opt_in"] > 2
        assert arm.shown == direct["shown"]
        assert arm.counts == {
            "opt_in": (direct["opt_in"], direct["shown"]),
            "withdrawal": (direct["withdrawal"], direct["opt_in"]),
            "unsubscribe": (direct["unsubscribe"], direct["shown"]),
            "complaint": (direct["complaint"], direct["shown"]),
            "depth": (direct["deep"], direct["opt_in"]),
        }
