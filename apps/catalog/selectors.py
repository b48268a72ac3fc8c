from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, lru_cache

from django.db.models import QuerySet

from .models import (
    BenefitKind,
    CatalogRevision,
    Channel,
    Notice,
    NoticeVersion,
    Option,
    Question,
    QuestionVersion,
    Topic,
)
from .purposes import FIXED_PURPOSES, Purpose, channel_purpose, profile_purpose, topic_purpose


@dataclass(frozen=True)
class TopicRule:
    channels: frozenset[str]
    required: bool


@dataclass(frozen=True)
class QuestionRule:
    many: bool  # several answers allowed (interests), else exactly one
    may_send_downstream: bool
    options: dict[int, tuple[str, ...]]  # per published notice version id: the answer codes it offered


@dataclass(frozen=True)
class PublishedVersion:
    id: int
    purpose: str
    number: int
    material: bool
    published_at: datetime
    legacy_source: str = ""
    experimental: bool = False


@dataclass(frozen=True)
class CatalogRules:
    """Everything the write path and the permission rules need from the catalog, read in four queries."""

    double_opt_in_channels: frozenset[str]
    quiet_hours_channels: frozenset[str]
    channels: tuple[str, ...]
    topics: dict[str, TopicRule]
    options: dict[str, tuple[str, ...]]
    defaults: dict[str, str]
    gpc_purposes: frozenset[str]
    noticed_purposes: frozenset[str]
    published: dict[int, PublishedVersion]
    questions: dict[str, QuestionRule] = field(default_factory=dict)

    def purposes(self) -> list[str]:
        """The purposes the page, the console and the re-ask ask as consent; profile questions are asked in
        their own section (``question_purposes``)."""
        return (
            [channel_purpose(code) for code in self.channels]
            + [topic_purpose(slug) for slug in self.topics]
            + list(FIXED_PURPOSES)
        )

    def question_purposes(self) -> list[str]:
        return [profile_purpose(code) for code in self.questions]

    def knows(self, purpose: str) -> bool:
        """Whether the purpose is one the catalog asks: a consent (``purposes``) or a profile question."""
        return purpose in self._known_purposes

    @cached_property
    def _known_purposes(self) -> frozenset[str]:
        # Once per catalog revision, not per choice validated.
        return frozenset(self.purposes()) | frozenset(self.question_purposes())

    def version(self, version_id: int | None) -> PublishedVersion | None:
        """The published version with this id, if there is one."""
        return self.published.get(version_id) if version_id is not None else None

    def topic_rule(self, purpose: Purpose) -> TopicRule | None:
        """The topic's rule, if the purpose is a topic the catalog knows."""
        slug = purpose.topic_slug
        return self.topics.get(slug) if slug is not None else None

    def is_required_topic(self, purpose: Purpose) -> bool:
        topic = self.topic_rule(purpose)
        return topic is not None and topic.required

    def needs_double_opt_in(self, purpose: Purpose) -> bool:
        """A channel whose consent counts only once the customer confirmed the address."""
        return purpose.channel_code in self.double_opt_in_channels

    def current_version(self, purpose: str) -> PublishedVersion | None:
        """The newest published version of the purpose's notice: the one shown and asked for now. A legacy
        version (wording from a system before Candor) never is, whatever number it stands in for, nor is an
        experiment's variant (shown only to the customers assigned to it, ``apps.experiments``)."""
        return self._current_versions.get(purpose)

    def current_versions(self) -> dict[str, PublishedVersion]:
        """Per purpose with a published notice, its current version."""
        return dict(self._current_versions)

    @cached_property
    def _current_versions(self) -> dict[str, PublishedVersion]:
        current: dict[str, PublishedVersion] = {}
        for version in self.published.values():
            if version.legacy_source or version.experimental:
                continue
            held = current.get(version.purpose)
            if held is None or version.number > held.number:
                current[version.purpose] = version
        return current

    def material_floor(self, purpose: str, at: datetime) -> int:
        """The number of the latest material version of the purpose's notice published by ``at`` (0 if none)."""
        versions = self._material_versions.get(purpose)
        if not versions:  # most purposes never had a material change: no generator to run, for every decision
            return 0
        return max((number for published_at, number in versions if published_at <= at), default=0)

    @cached_property
    def _material_versions(self) -> dict[str, tuple[tuple[datetime, int], ...]]:
        # Per purpose, so a decision batch does not scan every published version for every purpose it checks.
        by_purpose: dict[str, list[tuple[datetime, int]]] = {}
        for version in self.published.values():
            if version.material:
                by_purpose.setdefault(version.purpose, []).append((version.published_at, version.number))
        return {purpose: tuple(versions) for purpose, versions in by_purpose.items()}


def catalog_revision_token() -> str | None:
    return CatalogRevision.objects.order_by("pk").values_list("token", flat=True).first()


def catalog_rules(revision_token: str | None = None) -> CatalogRules:
    """The catalog's rules, reused while the catalog revision token stays the same.

    Pass the token when it has been read already (the write path reads it with its lock).
    """
    token = revision_token or catalog_revision_token()
    return _rules_for_revision(token) if token else _load_catalog_rules()


@lru_cache(maxsize=1)
def _rules_for_revision(token: str) -> CatalogRules:
    return _load_catalog_rules()


def _load_catalog_rules() -> CatalogRules:
    channels = list(Channel.objects.values_list("code", "double_opt_in", "supports_quiet_hours"))
    topic_channels: dict[str, set[str]] = {}
    for slug, channel in Topic.channels.through.objects.values_list("topic__slug", "channel__code"):
        topic_channels.setdefault(slug, set()).add(channel)
    options: dict[str, list[str]] = {}
    defaults = {}
    for option_set, code, is_default in Option.objects.order_by("set", "rank").values_list(
        "set", "code", "is_default"
    ):
        options.setdefault(option_set, []).append(code)
        if is_default:
            defaults[option_set] = code
    notices = list(Notice.objects.values_list("purpose", "honours_gpc"))
    rows = NoticeVersion.objects.filter(published_at__isnull=False).values_list(
        "id", "notice__purpose", "number", "material", "published_at", "legacy_source", "experimental"
    )
    published = {
        id_: PublishedVersion(id_, purpose, number, material, published_at, legacy_source, experimental)
        for id_, purpose, number, material, published_at, legacy_source, experimental in rows
        if published_at is not None  # the filter's promise, which the row's type cannot carry
    }
    for version in [v for v in published.values() if v.legacy_source]:
        published[version.id] = replace(version, number=_legacy_stand_in(version, published.values()))
    return CatalogRules(
        double_opt_in_channels=frozenset(code for code, doi, _ in channels if doi),
        quiet_hours_channels=frozenset(code for code, _, quiet in channels if quiet),
        channels=tuple(code for code, _, _ in channels),
        topics={
            slug: TopicRule(channels=frozenset(topic_channels.get(slug, ())), required=required)
            for slug, required in Topic.objects.values_list("slug", "required")
        },
        options={key: tuple(codes) for key, codes in options.items()},
        defaults=defaults,
        gpc_purposes=frozenset(purpose for purpose, gpc in notices if gpc),
        noticed_purposes=frozenset(purpose for purpose, _ in notices),
        published=published,
        questions=_question_rules(published),
    )


def _question_rules(published: dict[int, PublishedVersion]) -> dict[str, QuestionRule]:
    options: dict[int, dict[int, tuple[str, ...]]] = {}
    for question_id, version_id, choices in QuestionVersion.objects.values_list(
        "question_id", "notice_version_id", "options"
    ):
        if version_id in published:
            options.setdefault(question_id, {})[version_id] = tuple(option["code"] for option in choices)
    return {
        code: QuestionRule(
            many=kind == Question.Kind.MANY, may_send_downstream=downstream, options=options.get(pk, {})
        )
        for pk, code, kind, downstream in Question.objects.values_list(
            "pk", "code", "kind", "may_send_downstream"
        )
    }


def _legacy_stand_in(legacy: PublishedVersion, versions: Iterable[PublishedVersion]) -> int:
    """A legacy version stands in for the version that was current when the operator entered it: consent under
    it stays in force until a material version published after it (as under that version)."""
    return max(
        (
            version.number
            for version in versions
            if version.purpose == legacy.purpose
            and not version.legacy_source
            and not version.experimental
            and version.published_at <= legacy.published_at
        ),
        default=0,
    )


def current_notice_versions() -> QuerySet[NoticeVersion]:
    """The rows of the purposes' current notice versions (``CatalogRules.current_version``), with texts."""
    current = [version.id for version in catalog_rules().current_versions().values()]
    return NoticeVersion.objects.filter(pk__in=current).select_related("notice").prefetch_related("texts")


def current_notice_version(purpose: str) -> NoticeVersion | None:
    """The row of the purpose's current notice version, with its texts."""
    return current_notice_versions().filter(notice__purpose=purpose).first()


def benefit_kinds() -> dict[str, BenefitKind]:
    return {kind.code: kind for kind in BenefitKind.objects.all()}
