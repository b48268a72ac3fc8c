"""``decide`` says what the permission document says, at any instant: the same rules, never a second reading.

Pure: a catalog built in memory, choices as the snapshot holds them, instants around the nights the clocks
change in Berlin and New York, and time-boxed consents that end at the very instant asked about.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.catalog.selectors import CatalogRules, PublishedVersion, TopicRule
from apps.consent.rules import Reason, decide, derive_permissions, quiet_hours_end

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
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
# Version 2 of the offers notice is material and published mid-year: consent under version 1 lapses then.
MATERIAL_AT = datetime(2026, 6, 1, tzinfo=UTC)
RULES = CatalogRules(
    double_opt_in_channels=frozenset({"email"}),
    quiet_hours_channels=frozenset({"sms", "push"}),
    channels=("email", "sms", "push"),
    topics={
        "news": TopicRule(channels=frozenset({"email", "push"}), required=False),
        "offers": TopicRule(channels=frozenset({"email", "sms"}), required=False),
        "orders": TopicRule(channels=frozenset({"email", "sms"}), required=True),
    },
    options={
        "frequency": ("real_time", "daily", "weekly", "monthly"),
        "location": ("off", "country", "city"),
        "personalization": ("none", "interests"),
    },
    defaults={"frequency": "weekly", "location": "off", "personalization": "none"},
    gpc_purposes=frozenset(),
    noticed_purposes=frozenset(PURPOSES),
    published={
        **{
            index: PublishedVersion(index, purpose, 1, False, EPOCH)
            for index, purpose in enumerate(PURPOSES, start=1)
        },
        100: PublishedVersion(100, "topic:offers", 2, True, MATERIAL_AT),
    },
)
VERSIONS = {purpose: index for index, purpose in enumerate(PURPOSES, start=1)}

# Instants around clock changes: Berlin 29 Mar and 25 Oct 2026 at 01:00 UTC, New York 8 Mar and 1 Nov.
CLOCK_CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    MATERIAL_AT,
]
TIMES = ["00:00", "01:30", "02:00", "02:30", "03:00", "07:00", "22:00", "23:59"]
ZONES = ["Europe/Berlin", "America/New_York", "UTC"]

instants = st.builds(
    lambda base, minutes, seconds: base + timedelta(minutes=minutes, seconds=seconds),
    st.sampled_from(CLOCK_CHANGES),
    st.integers(-36 * 60, 36 * 60),
    st.sampled_from([0, 0, 1, 59]),
)
# How far from the instant asked about a time-boxed consent ends: exactly then, a moment either side, or later.
expiry_offsets = st.integers(0, 5).flatmap(
    lambda n: (
        st.none()
        if n < 3
        else st.sampled_from([timedelta(0), timedelta(microseconds=-1), timedelta(seconds=1)])
        if n == 3
        else st.integers(-48, 48).map(lambda hours: timedelta(hours=hours))
    )
)


def entry(state, value, purpose, at, offset, version=None):
    if state is None:
        return None
    return {
        "state": state,
        "value": value if state == "given" else None,
        "notice_version": version or VERSIONS[purpose],
        "language": "en",
        "event": VERSIONS[purpose],
        "sequence": VERSIONS[purpose],
        "recorded_at": EPOCH.isoformat(),
        "expires_at": (at + offset).isoformat() if state == "given" and offset is not None else None,
    }


OTHER_STATES = [None, "requested", "refused", "withdrawn", "expired", "invalidated"]
# Hypothesis favours small integers: mostly given, so the time rules (pause, quiet hours, digest, cap) are reached.
states = st.integers(0, 17).map(lambda n: "given" if n < 12 else OTHER_STATES[n - 12])
quiet_hours = st.one_of(
    st.fixed_dictionaries(
        {"start": st.sampled_from(TIMES), "end": st.sampled_from(TIMES), "timezone": st.sampled_from(ZONES)}
    ),
    st.none(),
)


@st.composite
def situations(draw):
    at = draw(instants)
    choices = {}
    for code in ("email", "sms", "push"):
        purpose = f"channel:{code}"
        choices[purpose] = entry(draw(states), None, purpose, at, draw(expiry_offsets))
    for slug, topic in RULES.topics.items():
        purpose = f"topic:{slug}"
        channels = draw(st.sets(st.sampled_from(sorted(topic.channels)), min_size=1).map(sorted))
        value = {"channels": channels}
        if draw(st.integers(0, 3)) == 0:
            value["frequency"] = draw(st.sampled_from(RULES.options["frequency"]))
        version = draw(st.sampled_from([None, 100])) if slug == "offers" else None
        choices[purpose] = entry(draw(states), value, purpose, at, draw(expiry_offsets), version)
    frequency = {
        "digest": draw(st.sampled_from(["real_time", *RULES.options["frequency"]])),
        "weekly_cap": draw(st.one_of(st.none(), st.integers(1, 5))),
        "paused_until": draw(
            st.integers(0, 5).flatmap(
                lambda n: (
                    st.none()
                    if n < 4
                    else st.integers(-2, 2).map(lambda days: (at.date() + timedelta(days)).isoformat())
                )
            )
        ),
        "quiet_hours": draw(quiet_hours),
    }
    choices["frequency"] = entry(draw(st.sampled_from(["given", None])), frequency, "frequency", at, None)
    return at, {purpose: value for purpose, value in choices.items() if value is not None}


def customer_zone(choices) -> ZoneInfo:
    quiet = ((choices.get("frequency") or {}).get("value") or {}).get("quiet_hours")
    return ZoneInfo(quiet["timezone"]) if quiet else ZoneInfo("UTC")


def wall_clock_quiet(quiet, at) -> bool:
    """Quiet hours read off the clock on the customer's wall, as the document states them."""
    if not quiet:
        return False
    now = at.astimezone(ZoneInfo(quiet["timezone"])).time()
    start, end = time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])
    if start < end:
        return start <= now < end
    return start != end and (now >= start or now < end)


def paused(channel_document, at, zone) -> bool:
    until = channel_document["paused_until"]
    return bool(until) and at.astimezone(zone).date() <= date.fromisoformat(until)


@settings(max_examples=400, deadline=None)
@given(
    situations(),
    st.sampled_from(RULES.channels),
    st.sampled_from(sorted(RULES.topics)),
    st.integers(0, 6),
    st.booleans(),
    st.booleans(),
)
def test_the_decision_is_what_the_permission_document_says_at_that_instant(
    situation, channel, topic, sent_this_week, reachable, digest
):
    at, choices = situation
    document = derive_permissions(choices, RULES, at)["channels"][channel]
    zone = customer_zone(choices)

    decision = decide(
        choices,
        RULES,
        channel=channel,
        topic=topic,
        at=at,
        sent_this_week=sent_this_week,
        reachable=reachable,
        digest=digest,
    )

    if RULES.topics[topic].required:
        expected = topic in document["required_topics"] and reachable
    else:
        frequency = document["topic_frequency"].get(topic) or document["frequency"]
        cap = document["weekly_cap"]
        expected = (
            document["allowed"]
            and topic in document["topics"]
            and reachable
            and not paused(document, at, zone)
            and not wall_clock_quiet(document["quiet_hours"], at)
            and (digest or frequency == "real_time")
            and not (cap is not None and sent_this_week >= cap)
        )
    assert decision.allow == expected
    assert decision.reason in ((Reason.GIVEN, Reason.REQUIRED) if expected else set(Reason) - {Reason.GIVEN})
    if decision.reason == Reason.QUIET_HOURS_UNTIL:
        assert not wall_clock_quiet(document["quiet_hours"], decision.until)
        assert wall_clock_quiet(document["quiet_hours"], max(at, decision.until - timedelta(seconds=1)))
    if decision.reason == Reason.PAUSED_UNTIL:
        assert not paused(document, decision.until, zone)
        assert paused(document, decision.until - timedelta(microseconds=1), zone)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TIMES), st.sampled_from(TIMES), st.sampled_from(ZONES), instants, st.integers(0, 3600))
def test_quiet_hours_last_exactly_until_the_wall_clock_leaves_them(start, end, zone, at, seconds):
    quiet = {"start": start, "end": end, "timezone": zone}
    until = quiet_hours_end(quiet, at)
    assert (until is not None) == wall_clock_quiet(quiet, at)
    if until is not None:
        later = at + timedelta(seconds=seconds)
        assert not wall_clock_quiet(quiet, until)
        assert wall_clock_quiet(quiet, later) or later >= until


def test_a_time_boxed_consent_is_off_at_the_instant_it_ends():
    ends = datetime(2026, 3, 29, 1, tzinfo=UTC)
    choices = {
        "channel:push": entry("given", None, "channel:push", ends, timedelta(0)),
        "topic:news": entry("given", {"channels": ["push"]}, "topic:news", ends, None),
        "frequency": entry("given", {"digest": "real_time"}, "frequency", ends, None),
    }
    before = decide(choices, RULES, channel="push", topic="news", at=ends - timedelta(microseconds=1))
    at_the_end = decide(choices, RULES, channel="push", topic="news", at=ends)
    assert (before.allow, at_the_end.allow, at_the_end.reason) == (True, False, Reason.NO_CONSENT)


def test_quiet_hours_end_when_the_clocks_go_back_to_before_they_start():
    quiet = {"start": "02:30", "end": "00:00", "timezone": "Europe/Berlin"}
    # 25 October 2026: at 03:00 CEST (01:00 UTC) the clocks in Berlin go back to 02:00 CET, outside the hours.
    until = quiet_hours_end(quiet, datetime(2026, 10, 25, 0, 45, tzinfo=UTC))
    assert until == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)


def test_quiet_hours_go_on_through_the_repeated_hour_when_it_lies_inside_them():
    quiet = {"start": "01:00", "end": "07:00", "timezone": "Europe/Berlin"}
    # The clocks go back from 03:00 CEST to 02:00 CET, still quiet: the hours end at 07:00 CET (06:00 UTC).
    until = quiet_hours_end(quiet, datetime(2026, 10, 25, 0, 45, tzinfo=UTC))
    assert until == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_quiet_hours_that_end_in_the_repeated_hour_end_when_the_clock_first_reads_the_end():
    quiet = {"start": "22:00", "end": "02:30", "timezone": "Europe/Berlin"}
    # 02:30 comes twice that night; the hours end the first time (00:30 UTC), not an hour later.
    until = quiet_hours_end(quiet, datetime(2026, 10, 24, 21, 0, tzinfo=UTC))
    assert until == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_quiet_hours_entered_again_in_the_repeated_hour_end_when_the_clock_reads_the_end_again():
    quiet = {"start": "22:00", "end": "02:30", "timezone": "Europe/Berlin"}
    # At 02:15 CET (01:15 UTC), after the clocks went back, the clock reads 02:30 again at 01:30 UTC.
    until = quiet_hours_end(quiet, datetime(2026, 10, 25, 1, 15, tzinfo=UTC))
    assert until == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_quiet_hours_go_on_through_the_skipped_hour_when_they_end_after_it():
    quiet = {"start": "01:00", "end": "03:30", "timezone": "Europe/Berlin"}
    # 29 March 2026: 01:45 CET, the clocks jump from 02:00 CET to 03:00 CEST; 03:30 CEST is 01:30 UTC.
    until = quiet_hours_end(quiet, datetime(2026, 3, 29, 0, 45, tzinfo=UTC))
    assert until == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_quiet_hours_that_end_in_the_hour_the_clocks_skip_end_when_the_clocks_jump():
    quiet = {"start": "22:00", "end": "02:30", "timezone": "Europe/Berlin"}
    # 29 March 2026: at 02:00 CET the clocks in Berlin jump to 03:00 CEST (01:00 UTC).
    until = quiet_hours_end(quiet, datetime(2026, 3, 29, 0, 45, tzinfo=UTC))
    assert until == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
