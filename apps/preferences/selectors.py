"""What the preference pages show: the customer's current choices next to the current wording of every notice.

Reads only. The page is built from the snapshot (one row) and the catalog (a handful of queries), never by
replaying the ledger; the timeline and receipts read the ledger itself.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from apps.catalog.models import (
    Channel,
    NoticeText,
    NoticeVersion,
    Option,
    Question,
    QuestionVersion,
    Topic,
    translated,
)
from apps.catalog.purposes import Purpose, channel_purpose, profile_purpose, topic_purpose
from apps.catalog.selectors import CatalogRules, benefit_kinds, catalog_rules, current_notice_versions
from apps.consent.entries import Choices, SnapshotEntry
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import ON_STATES, SMS, State, is_in_force
from apps.customers.models import Customer, Inference, ProfileAnswer
from apps.customers.selectors import masked_email, masked_phone, messages_received
from apps.experiments.selectors import versions_shown

FIXED_SECTIONS = ("frequency", "location", "personalization")
COMMON_TIMEZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Paris",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)


@dataclass(frozen=True)
class NoticeView:
    """The current wording of one purpose's notice, in the customer's language (English if missing)."""

    purpose: str
    version_id: int
    number: int
    title: str
    what_we_ask: str
    what_you_get: str
    what_we_do: str
    what_we_never_do: str
    example: str  # blank when the notice gives none
    change_summary: str
    text_hash: str


def notice_view(version: NoticeVersion, language: str) -> NoticeView:
    texts = {text.language: text for text in version.texts.all()}
    text = texts.get(language) or texts.get("en") or next(iter(texts.values()))
    return NoticeView(
        purpose=version.notice.purpose,
        version_id=version.pk,
        number=version.number,
        title=translated(version.notice.title, language),
        what_we_ask=text.what_we_ask,
        what_you_get=text.what_you_get,
        what_we_do=text.what_we_do,
        what_we_never_do=text.what_we_never_do,
        example=text.example,
        change_summary=translated(version.change_summary or {}, language),
        text_hash=version.text_hash,
    )


def current_notices(language: str) -> dict[str, NoticeView]:
    """Per purpose, the latest published notice version (two queries for all of them)."""
    return {
        version.notice.purpose: notice_view(version, language)
        for version in current_notice_versions().order_by("notice_id")
    }


def shown_notices(customer_id: int, choices: Choices, language: str) -> dict[str, NoticeView]:
    """Per purpose, the notice this customer is shown: the current one, or their arm's variant while an
    experiment on the purpose runs (``apps.experiments.selectors.versions_shown`` decides)."""
    notices = current_notices(language)
    shown = versions_shown(
        customer_id, choices, {purpose: notice.version_id for purpose, notice in notices.items()}
    )
    variants = [
        version_id
        for purpose, version_id in shown.items()
        if purpose not in notices or notices[purpose].version_id != version_id
    ]
    if variants:
        for version in (
            NoticeVersion.objects.filter(pk__in=variants).select_related("notice").prefetch_related("texts")
        ):
            notices[version.notice.purpose] = notice_view(version, language)
    return notices


# What the page offers for how long a pause or sharing the location lasts: the form's values are the days.
PAUSE_DAYS = {
    30: gettext_lazy("For 30 days"),
    60: gettext_lazy("For 60 days"),
    90: gettext_lazy("For 90 days"),
}
LOCATION_DAYS = {1: gettext_lazy("For 1 day"), 7: gettext_lazy("For 7 days"), 30: gettext_lazy("For 30 days")}


@dataclass
class ChannelRow:
    code: str
    label: str
    notice: NoticeView | None
    on: bool
    pending: bool
    contact: str
    needs_verification: bool

    @property
    def texts(self) -> bool:
        """The text-message channel, whose number is verified by a code before the first text."""
        return channel_purpose(self.code) == SMS


@dataclass
class TopicChannel:
    code: str
    label: str
    checked: bool
    channel_on: bool


@dataclass
class TopicRow:
    slug: str
    label: str
    notice: NoticeView | None
    required: bool
    required_reason: str
    channels: list[TopicChannel]
    frequency: str

    @property
    def purpose(self) -> str:
        return topic_purpose(self.slug)


@dataclass(frozen=True)
class OptionView:
    code: str
    label: str
    description: str


@dataclass
class Reask:
    """A purpose whose notice changed materially since the customer answered: shown first, asked again."""

    purpose: str
    title: str
    notice: NoticeView
    previous: NoticeView | None
    previous_value: dict | None
    changes: list[tuple[str, str, str]]  # field label key, old text, new text
    required: bool


@dataclass
class PreferencePage:
    customer: Customer
    language: str
    notices: dict[str, NoticeView]
    channels: list[ChannelRow]
    topics: list[TopicRow]
    frequency: dict
    frequency_options: list[OptionView]
    location: dict
    location_options: list[OptionView]
    personalization: str
    personalization_options: list[OptionView]
    reasks: list[Reask] = field(default_factory=list)
    questions: list["QuestionRow"] = field(default_factory=list)
    known: list["KnownGroup"] = field(default_factory=list)
    timezones: tuple[str, ...] = COMMON_TIMEZONES
    location_days: str = ""  # the "for how long" chosen, kept only when a save was refused
    pause_options: tuple = tuple(PAUSE_DAYS.items())
    location_days_options: tuple = tuple(LOCATION_DAYS.items())


def snapshot_choices(customer: Customer) -> Choices:
    snapshot = Snapshot.objects.filter(customer=customer).only("choices").first()
    return snapshot.choices if snapshot else {}


def is_on(entry: SnapshotEntry | None) -> bool:
    """On for the page: given (in force) or awaiting the email confirmation."""
    return entry is not None and entry.holds


def _options(language: str) -> dict[str, list[OptionView]]:
    """Every option set's options, in rank order, in one query."""
    sets: dict[str, list[OptionView]] = {key: [] for key in Option.Set.values}
    for option in Option.objects.order_by("set", "rank"):
        sets[option.set].append(
            OptionView(
                option.code,
                translated(option.label, language),
                translated(option.description, language),
            )
        )
    return sets


def needs_reask(purpose: str, entry: SnapshotEntry | None, rules: CatalogRules, now: datetime) -> bool:
    if entry is None:
        return False
    if entry.state == State.INVALIDATED:
        return True
    if not entry.holds:
        return False
    version = rules.published.get(entry.notice_version)
    return version is not None and version.number < rules.material_floor(purpose, now)


def preference_page(customer: Customer, language: str, rules: CatalogRules | None = None) -> PreferencePage:
    """Everything the page shows; ``rules`` may be passed in when the request already read them."""
    rules = rules or catalog_rules()
    now = timezone.now()
    choices = snapshot_choices(customer)
    notices = shown_notices(customer.pk, choices, language)
    in_force = {
        purpose: is_in_force(SnapshotEntry.of(choices, purpose), purpose, rules, now)
        for purpose in rules.purposes()
    }

    channel_labels = {}
    channels = []
    for channel in Channel.objects.all():
        channel_labels[channel.code] = translated(channel.label, language)
        entry = SnapshotEntry.of(choices, channel.purpose)
        reask = needs_reask(channel.purpose, entry, rules, now)
        contact = {"email": masked_email(customer.email), "sms": masked_phone(customer.phone)}.get(
            channel.code, ""
        )
        channels.append(
            ChannelRow(
                code=channel.code,
                label=channel_labels[channel.code],
                notice=notices.get(channel.purpose),
                on=is_on(entry) and not reask,
                pending=entry is not None and entry.state == State.REQUESTED and not reask,
                contact=contact,
                needs_verification=channel.purpose == SMS and customer.phone_verified_at is None,
            )
        )
    channel_on = {row.code: row.on for row in channels}

    topics = []
    for topic in Topic.objects.prefetch_related("channels"):
        entry = SnapshotEntry.of(choices, topic.purpose)
        given = entry.given_value if entry and in_force[topic.purpose] else None
        allowed = [channel.code for channel in topic.channels.all()]
        allowed.sort(key=list(channel_labels).index)
        if topic.required:
            checked = set(entry.channels) if entry and given else set(allowed)
        else:
            checked = set(entry.channels) if entry and given else set()
        topics.append(
            TopicRow(
                slug=topic.slug,
                label=translated(topic.label, language),
                notice=notices.get(topic.purpose),
                required=topic.required,
                required_reason=translated(topic.required_reason or {}, language),
                channels=[
                    TopicChannel(code, channel_labels[code], code in checked, channel_on.get(code, False))
                    for code in allowed
                ],
                frequency=(given or {}).get("frequency") or "",
            )
        )

    frequency_entry = SnapshotEntry.of(choices, "frequency")
    frequency: dict[str, Any] = (
        dict(frequency_entry.value or {}) if frequency_entry and in_force["frequency"] else {}
    )
    frequency.setdefault("digest", rules.defaults.get("frequency", ""))
    quiet = frequency.get("quiet_hours") or {}
    paused_until = frequency.get("paused_until")
    frequency.update(
        quiet_start=quiet.get("start", ""),
        quiet_end=quiet.get("end", ""),
        quiet_timezone=quiet.get("timezone") or ("Europe/Berlin" if language == "de" else "Europe/London"),
        paused=bool(paused_until) and date.fromisoformat(paused_until) >= now.date(),
    )
    frequency.update(
        pause_choice="keep" if frequency["paused"] else "", paused_until_input=paused_until or ""
    )

    location_entry = SnapshotEntry.of(choices, "location")
    location: dict[str, Any] = {"level": "off", "expires_at": None}
    if location_entry and in_force["location"]:
        location = {"level": location_entry.value_of("level"), "expires_at": location_entry.expiry}
    personalization_entry = SnapshotEntry.of(choices, "personalization")
    personalization = (
        personalization_entry.value_of("depth")
        if personalization_entry and in_force["personalization"]
        else rules.defaults.get("personalization", "none")
    )

    options = _options(language)
    return PreferencePage(
        customer=customer,
        language=language,
        notices=notices,
        channels=channels,
        topics=topics,
        frequency=frequency,
        frequency_options=options[Option.Set.FREQUENCY],
        location=location,
        location_options=options[Option.Set.LOCATION],
        personalization=personalization,
        personalization_options=options[Option.Set.PERSONALIZATION],
        reasks=reasks(customer, choices, rules, notices, language, now),
        questions=(questions := question_rows(customer, notices, language)),
        known=what_we_know(customer, questions, location, options[Option.Set.LOCATION], language),
    )


@dataclass(frozen=True)
class AnswerOption:
    code: str
    label: str
    checked: bool


@dataclass(frozen=True)
class QuestionRow:
    """One profile question on the page: its wording (the notice: why we ask, what you get), options, answer."""

    code: str
    many: bool
    notice: NoticeView
    options: list[AnswerOption]
    serves: list[str]  # the titles of the purposes the answer is used for
    answered: bool

    @property
    def purpose(self) -> str:
        return profile_purpose(self.code)

    @property
    def answer_labels(self) -> list[str]:
        return [option.label for option in self.options if option.checked]


def question_rows(customer: Customer, notices: dict[str, NoticeView], language: str) -> list[QuestionRow]:
    """The questions with a published version, each with its current options and the customer's answer."""
    answers = {row.question: row.answer for row in ProfileAnswer.objects.filter(customer=customer)}
    versions = {
        version.notice_version_id: version
        for version in QuestionVersion.objects.filter(
            notice_version_id__in=[notice.version_id for notice in notices.values()]
        )
    }
    rows = []
    for question in Question.objects.all():
        notice = notices.get(question.purpose)
        version = versions.get(notice.version_id) if notice else None
        if version is None:
            continue
        answer = answers.get(question.code) or []
        rows.append(
            QuestionRow(
                code=question.code,
                many=question.kind == Question.Kind.MANY,
                notice=notice,
                options=[
                    AnswerOption(
                        option["code"], translated(option["label"], language), option["code"] in answer
                    )
                    for option in version.options
                ],
                serves=[notices[purpose].title for purpose in question.serves if purpose in notices],
                answered=bool(answer),
            )
        )
    return rows


@dataclass(frozen=True)
class KnownItem:
    kind: str  # "answer", "inference" or "location"
    text: str
    source: str
    code: str = ""  # an inference's code: what its removal buttons send


@dataclass(frozen=True)
class KnownGroup:
    purpose: str
    title: str
    items: list[KnownItem]


def what_we_know(customer, questions, location, location_options, language) -> list[KnownGroup]:
    """Everything the brand holds or infers about the customer, per purpose: the answers they gave (under each
    purpose the question serves, else under the question itself), what the brand's systems inferred and
    reported, and the precision at which they share their location."""
    notices = current_notices(language)
    groups: dict[str, list[KnownItem]] = {}
    told = _("You told us")
    for row in questions:
        if row.answered:
            text = f"{row.notice.title}: {', '.join(row.answer_labels)}"
            for purpose in row.serves or [row.purpose]:
                groups.setdefault(purpose if purpose in notices else row.purpose, []).append(
                    KnownItem("answer", text, told)
                )
    for inference in Inference.objects.filter(customer=customer, removed_at__isnull=True):
        groups.setdefault(inference.purpose, []).append(
            KnownItem("inference", translated(inference.label, language), inference.source, inference.code)
        )
    if location["level"] != "off":
        label = {option.code: option.label for option in location_options}.get(location["level"], "")
        groups.setdefault("location", []).append(
            KnownItem(
                "location", _("Your location, at this precision: %(precision)s") % {"precision": label}, told
            )
        )
    return [
        KnownGroup(purpose, notices[purpose].title if purpose in notices else purpose, items)
        for purpose, items in groups.items()
    ]


TEXT_FIELD_KEYS = NoticeText.WORDING_FIELDS


def reasks(customer, choices, rules, notices, language, now) -> list[Reask]:
    due = [
        purpose
        for purpose in rules.purposes()
        if purpose in notices and needs_reask(purpose, SnapshotEntry.of(choices, purpose), rules, now)
    ]
    if not due:
        return []
    # The answer being re-asked: the customer's last given/requested event for the purpose.
    answered: dict[str, ConsentEvent] = {}
    for event in (
        ConsentEvent.objects.filter(customer=customer, purpose__in=due, state__in=ON_STATES)
        .select_related("notice_version__notice")
        .prefetch_related("notice_version__texts")
        .order_by("sequence")
    ):
        answered[event.purpose] = event
    result = []
    for purpose in due:
        notice = notices[purpose]
        event = answered.get(purpose)
        previous = notice_view(event.notice_version, language) if event else None
        changes = []
        if previous:
            for key in TEXT_FIELD_KEYS:
                old, new = getattr(previous, key), getattr(notice, key)
                if old != new:
                    changes.append((key, old, new))
        result.append(
            Reask(
                purpose=purpose,
                title=notice.title,
                notice=notice,
                previous=previous,
                previous_value=event.value if event else None,
                changes=changes,
                required=rules.is_required_topic(Purpose.parse(purpose)),
            )
        )
    return result


# --- what the customer got back -------------------------------------------------------------------------------

RECEIVED_DAYS = 90


@dataclass(frozen=True)
class Received:
    """What a customer received in return for one thing they allowed or shared, in the last 90 days."""

    purpose: str
    channel: str
    count: int
    last: date
    text: str


def received_in_return(customer: Customer, language: str) -> list[Received]:
    """Per purpose (and channel, for topics) what the customer got for it, from the senders' message reports.

    A message counts for what its benefit kind says the customer shared (e.g. location), else for its topic.
    """
    since = timezone.now() - timedelta(days=RECEIVED_DAYS)
    messages = messages_received(customer, since=since)
    if not messages:
        return []
    kinds = benefit_kinds()
    groups: dict[tuple[str, str], list] = {}
    for message in messages:  # newest first
        kind = kinds.get(message.benefit)
        purpose = kind.purpose if kind and kind.purpose else topic_purpose(message.topic)
        channel = message.channel if Purpose.parse(purpose).is_topic else ""
        groups.setdefault((purpose, channel), []).append((message, kind))
    location_entry = SnapshotEntry.of(snapshot_choices(customer), "location")
    location = (location_entry.value if location_entry else None) or {}
    levels = {option.code: option.label for option in _options(language)[Option.Set.LOCATION]}
    # What each line names: channels and topics by label, other purposes by their notice's title.
    names = {
        **{purpose: notice.title for purpose, notice in current_notices(language).items()},
        **{channel.purpose: translated(channel.label, language) for channel in Channel.objects.all()},
        **{topic.purpose: translated(topic.label, language) for topic in Topic.objects.all()},
        "location-level": levels.get(location.get("level", ""), ""),
    }
    with translation.override(language):
        return [
            _received_line(purpose, channel, items, language, names)
            for (purpose, channel), items in groups.items()
        ]


def _received_line(purpose: str, channel: str, items: list, language: str, names: dict) -> Received:
    count, last = len(items), items[0][0].sent_at.astimezone(timezone.get_current_timezone()).date()
    kinds = {kind for _message, kind in items}
    kind = next(iter(kinds)) if len(kinds) == 1 else None
    if kind is not None:
        unit = translated(kind.unit_one if count == 1 else kind.unit_other, language)
    else:
        unit = ngettext("message", "messages", count)
    facts = {"count": count, "unit": unit, "date": date_format(last, "j M")}
    if Purpose.parse(purpose).is_topic:
        text = _("You allowed %(channel)s about %(topic)s: %(count)s %(unit)s, the last on %(date)s.") % {
            **facts,
            "channel": names.get(channel_purpose(channel), channel),
            "topic": names.get(purpose, purpose),
        }
    elif purpose == "location":
        text = _("You shared your location (%(level)s): %(count)s %(unit)s, the last on %(date)s.") % {
            **facts,
            "level": names["location-level"],
        }
    else:
        text = _("You allowed %(purpose)s: %(count)s %(unit)s, the last on %(date)s.") % {
            **facts,
            "purpose": names.get(purpose, purpose),
        }
    return Received(purpose=purpose, channel=channel, count=count, last=last, text=text)


def keep_typed(page: PreferencePage, section: str, data) -> None:
    """After a refused save, show the section as the customer filled it in, not as stored: no input is lost."""
    if section == "frequency":
        page.frequency.update(
            digest=data.get("digest", page.frequency["digest"]),
            weekly_cap=data.get("weekly_cap", ""),
            pause_choice=data.get("pause", ""),
            paused_until_input=data.get("paused_until", ""),
            quiet_start=data.get("quiet_start", ""),
            quiet_end=data.get("quiet_end", ""),
            quiet_timezone=data.get("quiet_timezone", page.frequency["quiet_timezone"]),
        )
    elif section == "location":
        page.location = {**page.location, "level": data.get("level", page.location["level"])}
        page.location_days = data.get("location_days", "")
    elif section == "personalization":
        page.personalization = data.get("depth", page.personalization)


@dataclass
class LeaveOverview:
    """What "unsubscribe from everything" keeps and what it ends, said before the customer chooses."""

    stays_on: list[tuple[str, str]]  # required topic, why it stays
    channels: list[str]  # channels that reach the customer now and would stop
    topics: list[str]
    location: str  # the sharing level that would end ("" when off)
    personalization: str  # the depth that would end ("" when none)


def leave_overview(customer: Customer, language: str) -> LeaveOverview:
    page = preference_page(customer, language)
    labels = {
        (key, option.code): option.label
        for key, options in (("location", page.location_options), ("depth", page.personalization_options))
        for option in options
    }
    return LeaveOverview(
        stays_on=[(topic.label, topic.required_reason) for topic in page.topics if topic.required],
        channels=[row.label for row in page.channels if row.on],
        topics=[
            topic.label
            for topic in page.topics
            if not topic.required and any(channel.checked for channel in topic.channels)
        ],
        location=""
        if page.location["level"] == "off"
        else labels.get(("location", page.location["level"]), ""),
        personalization=""
        if page.personalization == "none"
        else labels.get(("depth", page.personalization), ""),
    )


@dataclass(frozen=True)
class SummaryItem:
    section: str  # the anchor of the section it summarises
    label: str
    text: str


def page_summary(page: PreferencePage) -> tuple[list[SummaryItem], dict[str, str]]:
    """The page in one screen: one line per channel and per setting, and one line per folded section."""
    digest = {option.code: option.label for option in page.frequency_options}.get(
        page.frequency["digest"], ""
    )
    location = {option.code: option.label for option in page.location_options}.get(page.location["level"], "")
    depth = {option.code: option.label for option in page.personalization_options}.get(
        page.personalization, ""
    )
    items = []
    for row in page.channels:
        topics = sum(
            1
            for topic in page.topics
            for channel in topic.channels
            if channel.code == row.code and channel.checked
        )
        if row.pending:
            text = _("waiting for you to confirm")
        elif not row.on:
            text = _("off")
        else:
            text = ngettext("%(digest)s, %(count)s topic", "%(digest)s, %(count)s topics", topics) % {
                "digest": digest,
                "count": topics,
            }
        items.append(SummaryItem("channels", row.label, text))
    paused = page.frequency["paused"]
    if paused:
        items.append(
            SummaryItem(
                "frequency", _("Pause"), _("until %(date)s") % {"date": page.frequency["paused_until"]}
            )
        )
    items.append(
        SummaryItem(
            "location",
            page.notices["location"].title if "location" in page.notices else _("Location"),
            location,
        )
    )
    if "personalization" in page.notices:
        items.append(SummaryItem("personalization", page.notices["personalization"].title, depth))
    on = [row.label for row in page.channels if row.on or row.pending]
    answered = sum(1 for row in page.questions if row.answered)
    known = sum(len(group.items) for group in page.known)
    chosen = [topic.label for topic in page.topics if any(channel.checked for channel in topic.channels)]
    frequency = [digest]
    if paused:
        frequency.append(_("paused until %(date)s") % {"date": page.frequency["paused_until"]})
    if page.frequency["quiet_start"] and page.frequency["quiet_end"]:
        frequency.append(
            _("quiet hours %(start)s to %(end)s")
            % {"start": page.frequency["quiet_start"], "end": page.frequency["quiet_end"]}
        )
    sections = {
        "channels": ", ".join(on) or _("nothing switched on"),
        "topics": ", ".join(chosen) or _("no topics"),
        "frequency": "; ".join(frequency),
        "location": location,
        "personalization": depth,
        "profile": ngettext("%(count)s answer", "%(count)s answers", answered) % {"count": answered},
        "known": ngettext("%(count)s item", "%(count)s items", known) % {"count": known},
    }
    return items, sections
