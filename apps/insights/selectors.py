"""What the insights page shows, read from the rollups alone (a few small queries, whatever the ledger's size)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Max, Sum
from django.utils import timezone

from apps.catalog.models import Channel, NoticeVersion, Option, Topic, translated
from apps.catalog.purposes import Purpose, topic_purpose

from .models import RollupMark, ShareCount, Tally
from .services import CONFIRM_BUCKETS, week_of


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class Share:
    measure: str
    label: str
    customers: int
    of: int  # the customers it is a share of

    @property
    def percent(self) -> float | None:
        return percent(self.customers, self.of)

    @property
    def kind(self) -> str:
        return self.measure.partition(":")[0]


@dataclass
class ShareGroup:
    key: str  # channels, topics, frequency, location, depth
    shares: list[Share]
    of_reachable: bool = False  # frequency settings: a share of the customers some channel reaches


@dataclass(frozen=True)
class DoorRow:
    """One notice version at the door: shown to how many customers, and how they first answered it there."""

    purpose: str
    title: str
    number: int
    shown: int
    views: int
    given: int
    refused: int
    withdrawn: int

    @property
    def unanswered(self) -> int:
        return max(self.shown - self.given - self.refused - self.withdrawn, 0)

    @property
    def given_percent(self) -> float | None:
        return percent(self.given, self.shown)


@dataclass(frozen=True)
class ReaskRow:
    purpose: str
    title: str
    number: int
    shown: int
    given: int
    declined: int


@dataclass
class Insights:
    language: str  # "" for every language
    population: str
    weeks: int
    since: date
    recounted: date | None  # the week of the latest recount ("now")
    rolled_up_at: object
    languages: list[str]
    customers: int
    reachable: int  # customers some channel reaches
    groups: list[ShareGroup]
    weekly: list[tuple[date, list[Share]]]  # per week: the headline shares
    per_language: list[tuple[str, list[Share]]]
    door: list[DoorRow]
    reasks: list[ReaskRow]
    doi: dict
    leaving: dict
    gpc: dict
    inbound: list[tuple[str, int]]
    summary: list[Share] = field(default_factory=list)


def _labels(language: str) -> dict[str, str]:
    """A readable label for every measure the rollups use, in ``language``."""
    labels = {"reachable": "reachable"}
    channels = {channel.code: translated(channel.label, language) for channel in Channel.objects.all()}
    for code, label in channels.items():
        labels[f"channel:{code}"] = label
    for topic in Topic.objects.all():
        name = translated(topic.label, language)
        labels[f"topic:{topic.slug}"] = name
        for code, channel in channels.items():
            labels[f"topic:{topic.slug}:{code}"] = f"{name} · {channel}"
    prefix = {"frequency": "frequency", "location": "location", "personalization": "depth"}
    for option in Option.objects.all():
        labels[f"{prefix[option.set]}:{option.code}"] = translated(option.label, language)
    return labels


GROUPS = (
    ("channels", "channel:", False),
    ("topics", "topic:", False),
    ("frequency", "frequency:", True),
    ("caps", "cap:", True),
    ("location", "location:", False),
    ("depth", "depth:", False),
)
HEADLINES = ("channel:", "location:any")


def _shares(rows: dict[str, int], labels: dict[str, str]) -> list[ShareGroup]:
    customers, reachable = rows.get("customers", 0), rows.get("reachable", 0)
    groups = []
    for key, prefix, of_reachable in GROUPS:
        measures = sorted(
            (m for m in rows if m.startswith(prefix) and m != "location:any"), key=lambda m: labels.get(m, m)
        )
        if key == "topics":  # a topic's share over all its channels first, then per channel
            measures = sorted(measures, key=lambda m: (m.split(":")[1], m.count(":")))
        groups.append(
            ShareGroup(
                key,
                [
                    Share(
                        m,
                        labels.get(m, m.partition(":")[2]),
                        rows[m],
                        reachable if of_reachable else customers,
                    )
                    for m in measures
                ],
                of_reachable,
            )
        )
    if "paused" in rows:
        groups[2].shares.append(Share("paused", "paused", rows["paused"], reachable))
    return groups


def _headlines(rows: dict[str, int], labels: dict[str, str]) -> list[Share]:
    """The one-screen summary: each channel and optional topic, location shared at all, any personalization."""
    customers = rows.get("customers", 0)
    topics = {slug for slug, required in Topic.objects.values_list("slug", "required") if not required}
    chosen = [m for m in rows if Purpose.parse(m).is_channel]
    chosen += [topic_purpose(slug) for slug in sorted(topics)]
    chosen += ["location:any"]
    shares = [Share(m, labels.get(m, m), rows.get(m, 0), customers) for m in chosen]
    depth = sum(number for m, number in rows.items() if m.startswith("depth:") and m != "depth:none")
    shares.append(Share("depth:any", "personalization", depth, customers))
    return shares


def _share_rows(queryset) -> dict[str, int]:
    return dict(queryset.values_list("measure").annotate(total=Sum("customers")).order_by())


def _summed(queryset, by: str, key: str, count: str) -> defaultdict:
    """``{by: {key: sum of count}}`` over the rows, summed in the database."""
    found: defaultdict = defaultdict(dict)
    for group, name, total in queryset.values_list(by, key).annotate(total=Sum(count)).order_by():
        found[group][name] = total
    return found


def _tallies(since: date, *metrics: str) -> dict[str, dict[str, int]]:
    return _summed(Tally.objects.filter(week__gte=since, metric__in=metrics), "metric", "key", "count")


def insights(*, language: str = "", population: str = "everyone", weeks: int = 12, ui_language: str = "en"):
    """Everything the page shows. ``language`` narrows the shares to customers of one language ("" for all);
    ``population`` is everyone or those who answered in the period; tallies cover the last ``weeks`` weeks."""
    labels = _labels(ui_language)
    since = week_of(timezone.now()) - timedelta(weeks=weeks - 1)
    counts = ShareCount.objects.filter(population=population)
    if language:
        counts = counts.filter(language=language)
    recounted = ShareCount.objects.aggregate(latest=Max("week"))["latest"]
    now_rows = _share_rows(counts.filter(week=recounted))
    weekly = _summed(counts.filter(week__gte=since), "week", "measure", "customers")
    per_language = _summed(
        ShareCount.objects.filter(population=population, week=recounted), "language", "measure", "customers"
    )
    tallies = _tallies(
        since,
        "shown",
        "shown_customers",
        "answer",
        "reask_answer",
        "doi",
        "doi_seconds",
        "doi_time",
        "leave",
        "leave_reason",
        "gpc",
        "gpc_customers",
        "inbound",
    )
    door, reasks = _door(tallies, ui_language)
    everyone = sum(
        ShareCount.objects.filter(week=recounted, population="everyone", measure="customers").values_list(
            "customers", flat=True
        )
    )
    marks = RollupMark.objects.aggregate(latest=Max("ran_at"))["latest"]
    return Insights(
        language=language,
        population=population,
        weeks=weeks,
        since=since,
        recounted=recounted,
        rolled_up_at=marks,
        languages=sorted(per_language),
        customers=now_rows.get("customers", 0),
        reachable=now_rows.get("reachable", 0),
        groups=_shares(now_rows, labels),
        weekly=[(week, _headlines(weekly[week], labels)) for week in sorted(weekly)],
        per_language=[(lang, _headlines(per_language[lang], labels)) for lang in sorted(per_language)],
        door=door,
        reasks=reasks,
        doi=_doi(tallies),
        leaving=_leaving(tallies),
        gpc={
            "customers": tallies["gpc_customers"].get("all", 0),
            "percent": percent(tallies["gpc_customers"].get("all", 0), everyone),
            "switched_off": sorted(
                ((labels.get(p, p), n) for p, n in tallies["gpc"].items()), key=lambda item: -item[1]
            ),
        },
        inbound=sorted(tallies["inbound"].items(), key=lambda item: -item[1]),
        summary=_headlines(now_rows, labels),
    )


def _door(tallies, language: str) -> tuple[list[DoorRow], list[ReaskRow]]:
    answers: dict[str, dict[str, int]] = defaultdict(dict)
    for key, number in tallies["answer"].items():
        version, _, state = key.partition(":")
        answers[version][state] = number
    reask_answers: dict[str, dict[str, int]] = defaultdict(dict)
    for key, number in tallies["reask_answer"].items():
        version, _, state = key.partition(":")
        reask_answers[version][state] = number
    views: dict[str, dict[str, int]] = defaultdict(dict)
    for key, number in tallies["shown"].items():
        version, _, surface = key.partition(":")
        views[version][surface] = number
    ids = {int(v) for v in (*answers, *reask_answers, *views, *tallies["shown_customers"])}
    versions = (
        NoticeVersion.objects.filter(pk__in=ids)
        .select_related("notice")
        .order_by("notice__purpose", "number")
    )
    door, reasks = [], []
    for version in versions:
        key, title = str(version.pk), translated(version.notice.title, language)
        got = answers.get(key, {})
        if got or views[key].get("page"):
            door.append(
                DoorRow(
                    purpose=version.notice.purpose,
                    title=title,
                    number=version.number,
                    shown=tallies["shown_customers"].get(key, 0),
                    views=views[key].get("page", 0),
                    given=got.get("given", 0) + got.get("requested", 0),
                    refused=got.get("refused", 0),
                    withdrawn=got.get("withdrawn", 0),
                )
            )
        if key in reask_answers or views[key].get("reask"):
            got = reask_answers.get(key, {})
            reasks.append(
                ReaskRow(
                    purpose=version.notice.purpose,
                    title=title,
                    number=version.number,
                    shown=views[key].get("reask", 0),
                    given=got.get("given", 0) + got.get("requested", 0),
                    declined=got.get("refused", 0) + got.get("withdrawn", 0),
                )
            )
    return door, reasks


def _doi(tallies) -> dict:
    requested = sum(n for key, n in tallies["doi"].items() if key.endswith(":requested"))
    confirmed = sum(n for key, n in tallies["doi"].items() if key.endswith(":confirmed"))
    seconds = sum(tallies["doi_seconds"].values())
    return {
        "requested": requested,
        "confirmed": confirmed,
        "percent": percent(confirmed, requested),
        "mean_hours": round(seconds / confirmed / 3600, 1) if confirmed else None,
        "buckets": [(key, tallies["doi_time"].get(key, 0)) for key, _ in CONFIRM_BUCKETS],
    }


def _leaving(tallies) -> dict:
    leave = tallies["leave"]
    shown = sum(n for key, n in tallies["shown"].items() if key.endswith(":leave"))
    return {
        "shown": shown,
        "monthly": leave.get("monthly", 0),
        "pause": leave.get("pause", 0),
        "everything": leave.get("everything", 0),
        "one_click": leave.get("one_click", 0),
        "reasons": sorted(tallies["leave_reason"].items(), key=lambda item: -item[1]),
    }
