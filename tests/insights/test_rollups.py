"""The insights rollups equal a direct count over the ledger (and the exposures) of a seeded history."""

import random
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.models import Exposure
from apps.customers.services import record_exposures
from apps.insights.selectors import insights
from apps.insights.services import recount_shares, roll_up
from tests.factories import CustomerFactory, make_choice

CHANNELS = ("email", "sms", "push")
TOPIC_CHANNELS = {"news": ("email", "push"), "offers": ("email", "sms")}


def _web(customer, choices, section, at):
    record_choices(
        customer=customer,
        choices=choices,
        language=customer.locale,
        provenance=Provenance("web", "customer", {"section": section}),
    )


def _customer_history(customer, rng, at, traveller):
    """One customer's few weeks: shown the page, answering some of it, maybe confirming, leaving, GPC, a STOP."""
    versions = [
        current_notice_version(purpose).pk for purpose in ("channel:email", "channel:sms", "location")
    ]
    record_exposures(customer_id=customer.pk, notice_version_ids=versions, surface="page", at=at)
    if rng.random() < 0.3:
        return  # shown, never answered
    channels = [code for code in CHANNELS if rng.random() < 0.6]
    choices = [
        make_choice(f"channel:{code}", "given" if code in channels else "refused") for code in CHANNELS
    ]
    _web(customer, choices, "channels", at)
    for slug, allowed in TOPIC_CHANNELS.items():
        picked = [code for code in allowed if rng.random() < 0.5]
        if picked:
            _web(customer, [make_choice(f"topic:{slug}", value={"channels": picked})], "topics", at)
    if rng.random() < 0.5:
        level = rng.choice(["country", "city", "precise"])
        _web(customer, [make_choice("location", value={"level": level})], "location", at)
    if rng.random() < 0.5:
        depth = rng.choice(["interests", "activity"])
        _web(customer, [make_choice("personalization", value={"depth": depth})], "personalization", at)
    if "email" in channels and rng.random() < 0.7:
        at += timedelta(hours=rng.choice([0.5, 5, 50, 400]))
        traveller.move_to(at)
        record_choices(
            customer=customer,
            choices=[make_choice("channel:email")],
            provenance=Provenance("email_link", "customer", {"confirmed": "email address"}),
        )
    roll = rng.random()
    if roll < 0.15:
        record_exposures(
            customer_id=customer.pk,
            notice_version_ids=[current_notice_version("frequency").pk],
            surface="leave",
            at=at,
        )
        value = (
            {"digest": "monthly"}
            if rng.random() < 0.5
            else {"digest": "weekly", "paused_until": "2031-01-01"}
        )
        _web(customer, [make_choice("frequency", value=value)], "leave", at)
    elif roll < 0.3:
        snapshot = customer.consent_snapshot.choices
        on = [p for p, entry in snapshot.items() if entry["state"] in ("given", "requested")]
        if on:
            record_choices(
                customer=customer,
                choices=[make_choice(purpose, "withdrawn") for purpose in on],
                provenance=Provenance(
                    "web", "customer", {"section": "leave", "reason": rng.choice(["too_many", "privacy"])}
                ),
            )
    elif roll < 0.4 and "sms" in channels:
        record_choices(
            customer=customer,
            choices=[make_choice("channel:sms", "withdrawn")],
            provenance=Provenance("twilio", "inbound:twilio"),
        )
    elif roll < 0.5:
        gpc = [p for p in ("location", "personalization") if p in customer.consent_snapshot.choices]
        gpc = [p for p in gpc if customer.consent_snapshot.choices[p]["state"] == "given"]
        if gpc:
            record_choices(
                customer=customer,
                choices=[make_choice(purpose, "withdrawn") for purpose in gpc],
                provenance=Provenance("gpc", "customer", {"signal": "Sec-GPC: 1"}),
            )


@pytest.fixture
def history(catalog):
    """Forty customers in English and German over three weeks, from a fixed seed; returns the end of it."""
    rng, start = random.Random(16), timezone.now() + timedelta(days=1)
    CustomerFactory.create_batch(3, locale="de")  # never shown anything
    for number in range(40):
        at = start + timedelta(days=number % 21, minutes=number)
        with time_machine.travel(at, tick=False) as traveller:
            _customer_history(CustomerFactory(locale="de" if number % 3 == 0 else "en"), rng, at, traveller)
    return start + timedelta(days=40)


def latest_by_purpose(language=None) -> dict[int, dict[str, ConsentEvent]]:
    latest: dict[int, dict[str, ConsentEvent]] = {}
    events = ConsentEvent.objects.order_by("customer_id", "sequence").select_related("customer")
    for event in events:
        if language is None or event.customer.locale == language:
            latest.setdefault(event.customer_id, {})[event.purpose] = event
    return latest


def direct_shares(language=None) -> Counter:
    """Who allows what, counted from each customer's latest ledger event per purpose."""
    counts = Counter()
    for choices in latest_by_purpose(language).values():
        allowed = {
            code for code in CHANNELS if getattr(choices.get(f"channel:{code}"), "state", "") == "given"
        }
        for code in allowed:
            counts[f"channel:{code}"] += 1
        for slug in TOPIC_CHANNELS:
            event = choices.get(f"topic:{slug}")
            on = set(event.value["channels"]) & allowed if event and event.state == "given" else set()
            for code in on:
                counts[f"topic:{slug}:{code}"] += 1
            counts[f"topic:{slug}"] += bool(on)
        location = choices.get("location")
        counts[
            f"location:{location.value['level'] if location and location.state == 'given' else 'off'}"
        ] += 1
        frequency = choices.get("frequency")
        value = frequency.value if frequency and frequency.state == "given" else {"digest": "weekly"}
        if allowed:
            counts["reachable"] += 1
            counts[f"frequency:{value['digest']}"] += 1
            counts["cap:none"] += 1  # nobody in the seed set a weekly cap
            counts["paused"] += "paused_until" in value
        depth = choices.get("personalization")
        counts[f"depth:{depth.value['depth'] if depth and depth.state == 'given' else 'none'}"] += 1
    return counts


def shown_shares(result) -> Counter:
    shown = Counter({share.measure: share.customers for group in result.groups for share in group.shares})
    shown["reachable"] = result.reachable
    return shown


@pytest.fixture
def rolled_up(history):
    with time_machine.travel(history, tick=False):
        roll_up()
        recount_shares()
    return history


def test_the_shares_now_equal_a_direct_count_of_each_customers_latest_choices(rolled_up):
    with time_machine.travel(rolled_up, tick=False):
        result = insights(weeks=12)
    shown, direct = shown_shares(result), direct_shares()
    assert direct["channel:email"]
    assert direct["location:city"]
    never_chose = 3 + 40 - len(latest_by_purpose())
    direct["location:off"] += never_chose
    direct["depth:none"] += never_chose
    assert direct["paused"]
    assert direct["frequency:monthly"]
    assert shown == +direct
    assert result.customers == 43


def test_the_shares_of_one_language_count_only_its_customers(rolled_up):
    with time_machine.travel(rolled_up, tick=False):
        result = insights(language="de", weeks=12)
    shown, direct = shown_shares(result), direct_shares("de")
    for measure in ("channel:email", "channel:sms", "topic:offers", "topic:news:push"):
        assert shown[measure] == direct[measure]


def test_each_notice_versions_first_answers_at_the_door_equal_a_direct_count(rolled_up):
    with time_machine.travel(rolled_up, tick=False):
        door = {row.purpose: row for row in insights(weeks=12).door}
    first = {}
    for event in ConsentEvent.objects.filter(source="web").order_by("id"):
        if (event.evidence or {}).get("section") != "reask":
            first.setdefault((event.customer_id, event.notice_version_id), event)
    answers = Counter((event.purpose, event.state) for event in first.values())
    for purpose in ("channel:email", "channel:sms", "location"):
        row = door[purpose]
        shown = Exposure.objects.filter(notice_version__notice__purpose=purpose).values("customer").distinct()
        assert row.shown == shown.count()
        assert row.given == answers[(purpose, "given")] + answers[(purpose, "requested")]
        assert row.refused == answers[(purpose, "refused")]
        assert row.unanswered == row.shown - row.given - row.refused - row.withdrawn


def test_double_opt_in_completion_equals_a_direct_count(rolled_up):
    with time_machine.travel(rolled_up, tick=False):
        doi = insights(weeks=12).doi
    events = ConsentEvent.objects.filter(purpose="channel:email")
    assert doi["requested"] == events.filter(state="requested").count()
    assert doi["confirmed"] == events.filter(source="email_link", state="given").count() > 0
    assert sum(number for _, number in doi["buckets"]) == doi["confirmed"]


def test_leaving_gpc_and_inbound_revocations_equal_a_direct_count(rolled_up):
    with time_machine.travel(rolled_up, tick=False):
        result = insights(weeks=12)
    leave = ConsentEvent.objects.filter(evidence__section="leave")
    submissions = {
        (e.customer_id, e.recorded_at): e.evidence["reason"] for e in leave.filter(state="withdrawn")
    }
    assert result.leaving["everything"] == len(submissions) > 0
    assert dict(result.leaving["reasons"]) == dict(Counter(submissions.values()))
    do_less = leave.filter(purpose="frequency")
    assert result.leaving["pause"] == do_less.filter(value__has_key="paused_until").count()
    assert result.leaving["monthly"] == do_less.count() - result.leaving["pause"]
    assert result.leaving["shown"] == Exposure.objects.filter(surface="leave").count()
    gpc = ConsentEvent.objects.filter(source="gpc")
    assert result.gpc["customers"] == gpc.values("customer").distinct().count() > 0
    assert sum(n for _, n in result.gpc["switched_off"]) == gpc.count()
    assert dict(result.inbound) == {"twilio": ConsentEvent.objects.filter(source="twilio").count()}


def test_rolling_up_in_small_batches_counts_the_same_as_in_one(history, settings):
    with time_machine.travel(history, tick=False):
        roll_up()
        whole = insights(weeks=12)
    from apps.insights.models import RollupMark, Tally

    Tally.objects.all().delete()
    RollupMark.objects.all().delete()
    settings.INSIGHTS_BATCH_SIZE = 7
    with time_machine.travel(history, tick=False):
        while sum(roll_up(batches=1).values()):
            pass
        pieces = insights(weeks=12)
    assert (pieces.door, pieces.doi, pieces.leaving, pieces.gpc) == (
        whole.door,
        whole.doi,
        whole.leaving,
        whole.gpc,
    )


def test_an_event_younger_than_the_settle_time_waits_for_the_next_run(catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer, choices=[make_choice("channel:sms")], provenance=Provenance("web", "customer")
    )
    assert roll_up()["events"] == 0
    assert roll_up(now=timezone.now() + timedelta(minutes=5))["events"] == 1
