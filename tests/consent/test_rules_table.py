"""The pure rules of apps/consent/rules.py as tables: no database, one row per case, read as the rules' summary.

The catalog is written out by hand: channels email (double opt-in), sms and push (quiet hours); topics news
(email, push), offers (email, sms) and orders (required; email, sms); every purpose's notice published as
version 1, and the location notice's version 2 a material change published on 1 March.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from apps.catalog.selectors import CatalogRules, PublishedVersion, TopicRule
from apps.consent.entries import SnapshotEntry
from apps.consent.rules import (
    Choice,
    Reason,
    Source,
    State,
    decide,
    effective_state,
    is_in_force,
    quiet_hours_end,
    revocation_deadline,
    validate_choices,
    withdrawal_choices,
)

JAN = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday, noon UTC
PURPOSES = [
    "channel:email",
    "channel:sms",
    "channel:push",
    "topic:news",
    "topic:offers",
    "topic:orders",
    "frequency",
    "location",
    "personalization",
]
V1 = {purpose: number for number, purpose in enumerate(PURPOSES, start=1)}  # version 1's id, by purpose
LOCATION_V2 = 100
PUBLISHED = {
    **{pk: PublishedVersion(pk, purpose, 1, False, JAN) for purpose, pk in V1.items()},
    LOCATION_V2: PublishedVersion(LOCATION_V2, "location", 2, True, MARCH),
}
RULES = CatalogRules(
    double_opt_in_channels=frozenset({"email"}),
    quiet_hours_channels=frozenset({"sms", "push"}),
    channels=("email", "sms", "push"),
    topics={
        "news": TopicRule(frozenset({"email", "push"}), required=False),
        "offers": TopicRule(frozenset({"email", "sms"}), required=False),
        "orders": TopicRule(frozenset({"email", "sms"}), required=True),
    },
    options={
        "frequency": ("real_time", "daily", "weekly", "monthly"),
        "location": ("off", "country", "region", "city", "precise"),
        "personalization": ("none", "interests", "activity"),
    },
    defaults={"frequency": "weekly", "location": "off", "personalization": "none"},
    gpc_purposes=frozenset({"location", "personalization"}),
    noticed_purposes=frozenset(PURPOSES),
    published=PUBLISHED,
)


def choice(purpose, state=State.GIVEN, value=None, expires_at=None, version=None):
    return Choice(purpose, state, version or V1.get(purpose, 999), value, expires_at)


def entry(state=State.GIVEN, value=None, version=1, expires_at=None):
    """A snapshot entry's JSON, as the write path folds it."""
    return {
        "state": state,
        "value": value,
        "notice_version": version,
        "language": "en",
        "event": 1,
        "sequence": 1,
        "recorded_at": JAN.isoformat(),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


def problems(choices, source=Source.WEB):
    try:
        validate_choices(choices, RULES, NOW, source)
    except ValidationError as error:
        return error.message_dict
    return {}


# --- what a valid change is -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choices", "source"),
    [
        ([choice("channel:email")], Source.WEB),
        ([choice("channel:sms", State.REFUSED)], Source.WEB),
        ([choice("topic:news", value={"channels": ["email", "push"]})], Source.WEB),
        ([choice("topic:news", value={"channels": ["email"], "frequency": "daily"})], Source.WEB),
        ([choice("topic:orders", value={"channels": ["sms"]})], Source.WEB),
        ([choice("frequency", value={"digest": "weekly", "weekly_cap": 50})], Source.WEB),
        (
            [
                choice(
                    "frequency",
                    value={
                        "digest": "daily",
                        "paused_until": "2026-07-01",
                        "quiet_hours": {"start": "22:00", "end": "07:30", "timezone": "Europe/Berlin"},
                    },
                )
            ],
            Source.WEB,
        ),
        ([choice("location", value={"level": "city"}, expires_at=NOW + timedelta(days=30))], Source.WEB),
        ([choice("personalization", value={"depth": "activity"})], Source.WEB),
        ([choice("location", State.EXPIRED)], Source.SYSTEM),
    ],
)
def test_a_valid_change_passes(choices, source):
    assert problems(choices, source) == {}


@pytest.mark.parametrize(
    ("choices", "source", "purpose", "message"),
    [
        ([choice("channel:fax")], Source.WEB, "channel:fax", "Unknown purpose"),
        ([choice("channel:email", "maybe")], Source.WEB, "channel:email", "Unknown state"),
        ([choice("channel:email", version=V1["channel:sms"])], Source.WEB, "channel:email", "not a published"),
        ([choice("channel:email"), choice("channel:email")], Source.WEB, "channel:email", "appears twice"),
        ([choice("location", State.EXPIRED)], Source.WEB, "location", "Only the system records expired"),
        ([choice("channel:sms", State.REFUSED, expires_at=NOW + timedelta(1))], Source.WEB, "channel:sms",
         "Only a given consent can be time-boxed"),
        ([choice("location", value={"level": "city"}, expires_at=NOW)], Source.WEB, "location",
         "must be in the future"),
        ([choice("topic:orders", State.WITHDRAWN)], Source.WEB, "topic:orders", "is required"),
        ([choice("channel:sms", value={"x": 1})], Source.WEB, "channel:sms", "takes no value"),
        ([choice("topic:news", State.REFUSED, value={"channels": ["email"]})], Source.WEB, "topic:news",
         "takes no value"),
        ([choice("topic:news")], Source.WEB, "topic:news", "needs a value object"),
        ([choice("topic:news", value={"channels": []})], Source.WEB, "topic:news", "non-empty list"),
        ([choice("topic:news", value={"channels": ["sms"]})], Source.WEB, "topic:news", "may not use sms"),
        ([choice("topic:news", value={"channels": ["email", "email"]})], Source.WEB, "topic:news", "twice"),
        ([choice("topic:news", value={"channels": ["email"], "colour": "red"})], Source.WEB, "topic:news",
         "Unknown field(s): colour"),
        ([choice("topic:news", value={"channels": ["email"], "frequency": "hourly"})], Source.WEB, "topic:news",
         "frequency must be one of"),
        ([choice("frequency", value={"digest": "hourly"})], Source.WEB, "frequency", "digest must be one of"),
        ([choice("frequency", value={"digest": "daily", "weekly_cap": 51})], Source.WEB, "frequency",
         "weekly_cap must be a whole number"),
        ([choice("frequency", value={"digest": "daily", "weekly_cap": True})], Source.WEB, "frequency",
         "weekly_cap must be a whole number"),
        ([choice("frequency", value={"digest": "daily", "paused_until": "soon"})], Source.WEB, "frequency",
         "paused_until must be a date"),
        ([choice("frequency", value={"digest": "daily", "quiet_hours": {"start": "22:00"}})], Source.WEB,
         "frequency", "quiet_hours.end must be a time"),
        ([choice("frequency", value={"digest": "daily",
                                     "quiet_hours": {"start": "24:00", "end": "07:00", "timezone": "UTC"}})],
         Source.WEB, "frequency", "quiet_hours.start must be a time"),
        ([choice("frequency", value={"digest": "daily",
                                     "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Base"}})],
         Source.WEB, "frequency", "IANA time zone"),
        ([choice("location", value={"level": "street"})], Source.WEB, "location", "level must be one of"),
        ([choice("location", value={"level": "off"})], Source.WEB, "location", "a level other than off"),
        ([choice("personalization", value={"depth": "all"})], Source.WEB, "personalization", "depth must be"),
    ],
)  # fmt: skip
def test_a_bad_choice_is_refused_with_a_message_naming_its_purpose(choices, source, purpose, message):
    found = problems(choices, source)
    assert list(found) == [purpose]
    assert any(message in problem for problem in found[purpose]), found


# --- double opt-in: which state a "given" is recorded as ------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "source", "current", "confirmed", "recorded"),
    [
        ("channel:email", Source.WEB, None, False, State.REQUESTED),
        ("channel:email", Source.WEB, State.WITHDRAWN, False, State.REQUESTED),
        ("channel:email", Source.WEB, State.REQUESTED, False, State.REQUESTED),
        ("channel:email", Source.WEB, State.GIVEN, False, State.GIVEN),
        ("channel:email", Source.EMAIL_LINK, None, False, State.GIVEN),
        ("channel:email", Source.IMPORT, None, False, State.GIVEN),
        ("channel:email", Source.API, None, True, State.GIVEN),
        ("channel:sms", Source.WEB, None, False, State.GIVEN),
        ("topic:news", Source.WEB, None, False, State.GIVEN),
    ],
)
def test_a_first_email_consent_waits_for_the_address_to_be_confirmed(
    purpose, source, current, confirmed, recorded
):
    current_entry = SnapshotEntry.from_json(entry(current)) if current else None
    given = choice(purpose, value={"channels": ["email"]} if purpose.startswith("topic:") else None)
    assert effective_state(given, current_entry, RULES, source, confirmed) == recorded


# --- in force: given, not expired, not superseded by a material change ----------------------------------------


@pytest.mark.parametrize(
    ("purpose", "snapshot_entry", "at", "in_force"),
    [
        ("channel:sms", None, NOW, False),
        ("channel:sms", entry(State.GIVEN, version=V1["channel:sms"]), NOW, True),
        ("channel:sms", entry(State.REQUESTED, version=V1["channel:sms"]), NOW, False),
        ("channel:sms", entry(State.WITHDRAWN, version=V1["channel:sms"]), NOW, False),
        ("channel:sms", entry(State.REFUSED, version=V1["channel:sms"]), NOW, False),
        ("location", entry(version=V1["location"], value={"level": "city"}), JAN + timedelta(days=1), True),
        ("location", entry(version=V1["location"], value={"level": "city"}), MARCH, False),  # superseded
        ("location", entry(version=LOCATION_V2, value={"level": "city"}), NOW, True),
        ("channel:sms", entry(version=V1["channel:sms"], expires_at=NOW), NOW, False),
        ("channel:sms", entry(version=V1["channel:sms"], expires_at=NOW + timedelta(seconds=1)), NOW, True),
    ],
)
def test_a_consent_is_in_force_only_while_given_unexpired_and_not_superseded(
    purpose, snapshot_entry, at, in_force
):
    typed = SnapshotEntry.from_json(snapshot_entry) if snapshot_entry else None
    assert is_in_force(typed, purpose, RULES, at) is in_force


# --- decisions: may this message go now, and why ------------------------------------------------------------

SMS_OFFERS = {
    "channel:sms": entry(version=V1["channel:sms"]),
    "topic:offers": entry(value={"channels": ["sms"]}, version=V1["topic:offers"]),
    "frequency": entry(value={"digest": "real_time"}, version=V1["frequency"]),
}


def but(**changes):
    """SMS_OFFERS with some purposes' entries replaced (``None`` removes one); keys use _ for :."""
    choices = dict(SMS_OFFERS)
    for key, value in changes.items():
        purpose = key.replace("_", ":", 1) if key.startswith(("channel_", "topic_")) else key
        if value is None:
            choices.pop(purpose, None)
        else:
            choices[purpose] = value
    return choices


def frequency(**value):
    return entry(value={"digest": "real_time", **value}, version=V1["frequency"])


@pytest.mark.parametrize(
    ("choices", "topic", "at", "sent_this_week", "reachable", "allow", "reason"),
    [
        (SMS_OFFERS, "offers", NOW, 0, True, True, Reason.GIVEN),
        (but(channel_sms=None), "offers", NOW, 0, True, False, Reason.NO_CONSENT),
        (but(channel_sms=entry(State.WITHDRAWN, version=V1["channel:sms"])), "offers", NOW, 0, True, False,
         Reason.WITHDRAWN),
        (but(channel_sms=entry(State.REFUSED, version=V1["channel:sms"])), "offers", NOW, 0, True, False,
         Reason.WITHDRAWN),
        (but(channel_sms=entry(State.REQUESTED, version=V1["channel:sms"])), "offers", NOW, 0, True, False,
         Reason.REQUESTED_UNCONFIRMED),
        (but(channel_sms=entry(version=V1["channel:sms"], expires_at=NOW)), "offers", NOW, 0, True, False,
         Reason.NO_CONSENT),
        (but(topic_offers=entry(value={"channels": ["email"]}, version=V1["topic:offers"])), "offers", NOW, 0,
         True, False, Reason.NO_CONSENT),
        (SMS_OFFERS, "offers", NOW, 0, False, False, Reason.UNDELIVERABLE),
        (but(frequency=frequency(paused_until="2026-06-10")), "offers", NOW, 0, True, False, Reason.PAUSED_UNTIL),
        (but(frequency=frequency(paused_until="2026-06-09")), "offers", NOW, 0, True, True, Reason.GIVEN),
        (but(frequency=frequency(quiet_hours={"start": "11:00", "end": "13:00", "timezone": "UTC"})), "offers",
         NOW, 0, True, False, Reason.QUIET_HOURS_UNTIL),
        (but(frequency=entry(value={"digest": "weekly"}, version=V1["frequency"])), "offers", NOW, 0, True, False,
         Reason.DIGEST_ONLY),
        (but(frequency=None), "offers", NOW, 0, True, False, Reason.DIGEST_ONLY),  # the catalog's default
        (but(frequency=frequency(weekly_cap=3)), "offers", NOW, 2, True, True, Reason.GIVEN),
        (but(frequency=frequency(weekly_cap=3)), "offers", NOW, 3, True, False, Reason.WEEKLY_CAP_REACHED),
        ({}, "orders", NOW, 0, True, True, Reason.REQUIRED),
        ({"topic:orders": entry(value={"channels": ["email"]}, version=V1["topic:orders"])}, "orders", NOW, 0,
         True, False, Reason.NO_CONSENT),
        ({}, "orders", NOW, 0, False, False, Reason.UNDELIVERABLE),
    ],
)  # fmt: skip
def test_a_message_may_go_only_when_every_rule_passes_and_the_first_failure_says_why(
    choices, topic, at, sent_this_week, reachable, allow, reason
):
    decision = decide(
        choices, RULES, channel="sms", topic=topic, at=at, sent_this_week=sent_this_week, reachable=reachable
    )
    assert (decision.allow, decision.reason) == (allow, reason)


@pytest.mark.parametrize(
    ("quiet", "at", "ends"),
    [
        (None, NOW, None),
        ({"start": "22:00", "end": "07:00", "timezone": "UTC"}, NOW, None),
        ({"start": "22:00", "end": "07:00", "timezone": "UTC"}, NOW.replace(hour=23),
         datetime(2026, 6, 11, 7, tzinfo=UTC)),
        ({"start": "22:00", "end": "07:00", "timezone": "UTC"}, NOW.replace(hour=3),
         datetime(2026, 6, 10, 7, tzinfo=UTC)),
        ({"start": "22:00", "end": "07:00", "timezone": "UTC"}, NOW.replace(hour=7), None),
        ({"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}, NOW.replace(hour=21),  # 23:00 there
         datetime(2026, 6, 11, 5, tzinfo=UTC)),
        ({"start": "12:00", "end": "12:00", "timezone": "UTC"}, NOW, None),  # no quiet hours at all
        # The night the clocks jump from 02:00 to 03:00 in Berlin, quiet hours ending at 02:30 end at the jump.
        ({"start": "22:00", "end": "02:30", "timezone": "Europe/Berlin"}, datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
         datetime(2026, 3, 29, 1, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_quiet_hours_hold_a_message_until_the_wall_clock_where_the_customer_lives_reaches_their_end(
    quiet, at, ends
):
    assert quiet_hours_end(quiet, at) == ends


# --- revocations reported back by a provider ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "spec", "deadline"),
    [
        (NOW, "48h", NOW + timedelta(hours=48)),
        (NOW, "1bd", NOW + timedelta(days=1)),  # Wednesday to Thursday
        (
            datetime(2026, 6, 12, 9, tzinfo=UTC),
            "1bd",
            datetime(2026, 6, 15, 9, tzinfo=UTC),
        ),  # Friday to Monday
        (NOW, "10bd", NOW + timedelta(days=14)),
    ],
)
def test_a_revocation_deadline_counts_hours_or_business_days(received, spec, deadline):
    assert revocation_deadline(received, spec) == deadline


@pytest.mark.parametrize("spec", ["48", "2d", "bd", "-1h"])
def test_a_deadline_in_any_other_form_is_refused(spec):
    with pytest.raises(ValueError, match="A deadline is"):
        revocation_deadline(NOW, spec)


@pytest.mark.parametrize(
    ("choices", "topics", "withdrawn"),
    [
        ({"channel:sms": entry(version=V1["channel:sms"])}, (),
         [Choice("channel:sms", State.WITHDRAWN, V1["channel:sms"])]),
        ({"channel:sms": entry(State.REQUESTED, version=V1["channel:sms"])}, (),
         [Choice("channel:sms", State.WITHDRAWN, V1["channel:sms"])]),
        ({"channel:sms": entry(State.WITHDRAWN, version=V1["channel:sms"])}, (), []),
        ({}, (), []),
        ({"topic:offers": entry(value={"channels": ["email", "sms"]}, version=V1["topic:offers"])}, ("offers",),
         [Choice("topic:offers", State.GIVEN, V1["topic:offers"], {"channels": ["email"]})]),
        ({"topic:offers": entry(value={"channels": ["sms"]}, version=V1["topic:offers"])}, ("offers",),
         [Choice("topic:offers", State.WITHDRAWN, V1["topic:offers"])]),
        ({"topic:orders": entry(value={"channels": ["sms"]}, version=V1["topic:orders"])}, ("orders",), []),
        ({}, ("no-such-topic",), []),
    ],
)  # fmt: skip
def test_a_stop_withdraws_the_channel_or_takes_it_off_each_named_topic(choices, topics, withdrawn):
    assert withdrawal_choices(choices, RULES, "sms", topics) == withdrawn
