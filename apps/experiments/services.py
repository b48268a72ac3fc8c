"""Creating, approving, starting and stopping experiments (docs/experiments.md).

Variants are notice versions marked ``experimental``: published when the experiment starts, so the write path
accepts choices under them and proof shows their exact words, yet never a purpose's current version. Stopping
with a winner publishes the winner's wording anew as the current version.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps import rollups
from apps.catalog.models import Notice, NoticeText, NoticeVersion
from apps.catalog.purposes import Purpose
from apps.catalog.selectors import catalog_rules, current_notice_version
from apps.consent.models import COMPLAINT_KINDS, ConsentEvent, InboundReport
from apps.consent.rules import State
from apps.consent.services import mark_notice_version_published
from apps.consent.tasks import queue_invalidation
from apps.customers.models import Exposure
from apps.rollups import Source

from . import selectors
from .lint import EXAMPLE, MAX_VARIANTS, MIN_VARIANTS, labels, value_exchange_only
from .models import ArmRollupMark, Experiment, Variant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantSpec:
    texts: dict[str, dict[str, str]]  # language -> part -> text
    weight: int


def variants_from_current(
    purpose: str, offers: list[tuple[dict[str, dict[str, str]], int]]
) -> list[VariantSpec]:
    """Variants that say what the purpose's current notice says, each with its own value exchange: ``offers``
    holds per variant (language -> {"what_you_get": …, "example": …}, weight).

    A variant without an example shows none, even where the current notice has one: an example illustrates its
    own variant's promise, not the current one."""
    current = current_notice_version(purpose)
    base = selectors.variant_texts(current) if current else {}
    return [
        VariantSpec(
            texts={
                language: {**base.get(language, {}), EXAMPLE: "", **exchange}
                for language, exchange in exchanges.items()
            },
            weight=weight,
        )
        for exchanges, weight in offers
    ]


def create_experiment(*, staff, name: str, purpose: str, variants: list[VariantSpec]) -> Experiment:
    """A draft experiment with one draft notice version per variant (A first: the control).

    Raises ``ValidationError`` for a missing name or notice, a wrong number of variants or a split that is not
    100 %; the wording itself is judged by the lint before approval.
    """
    errors = {}
    if not name.strip():
        errors["name"] = _("Give the experiment a name.")
    notice = Notice.objects.filter(purpose=purpose).first()
    if notice is None:
        errors["purpose"] = _("%(purpose)s has no notice.") % {"purpose": purpose}
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        errors["variants"] = _("An experiment has 2 to 4 variants.")
    elif sum(spec.weight for spec in variants) != 100 or any(spec.weight < 1 for spec in variants):
        errors["variants"] = _("The split must give every variant a share and add up to 100 %.")
    if errors or notice is None:
        raise ValidationError(errors)
    with transaction.atomic():
        Notice.objects.select_for_update().get(pk=notice.pk)  # numbers versions one at a time
        number = NoticeVersion.objects.filter(notice=notice).aggregate(top=Max("number"))["top"] or 0
        experiment = Experiment.objects.create(
            name=name.strip()[:100], purpose=purpose, created_by=staff, created_at=timezone.now()
        )
        for offset, (label, spec) in enumerate(zip(labels(len(variants)), variants, strict=True), start=1):
            version = NoticeVersion.objects.create(
                notice=notice,
                number=number + offset,
                experimental=True,
                change_summary={
                    "en": f"Variant {label} of the experiment “{experiment.name}”.",
                    "de": f"Variante {label} des Experiments „{experiment.name}“.",
                },
            )
            for language, text in spec.texts.items():
                NoticeText.objects.create(
                    version=version,
                    language=language,
                    **{part: str(text.get(part, "")).strip() for part in NoticeText.WORDING_FIELDS},
                )
            Variant.objects.create(
                experiment=experiment, label=label, notice_version=version, weight=spec.weight
            )
    return experiment


def approve_experiment(*, experiment: Experiment, staff) -> None:
    """A privacy officer's approval of the variants as they are now; the lint must pass first."""
    if experiment.status != Experiment.Status.DRAFT:
        raise ValidationError(_("Only a draft experiment can be approved."))
    result = selectors.lint(experiment)
    if not result.passed:
        raise ValidationError(result.problems)
    experiment.approved_by, experiment.approved_at = staff, timezone.now()
    experiment.approved_wording = selectors.wording_hash(experiment)
    experiment.save(update_fields=["approved_by", "approved_at", "approved_wording"])


def start_experiment(*, experiment: Experiment, staff) -> None:
    """Publish the variants and start assigning: only after the lint passed and a privacy officer approved
    exactly this wording."""
    if experiment.status != Experiment.Status.DRAFT:
        raise ValidationError(_("Only a draft experiment can start."))
    result = selectors.lint(experiment)
    if not result.passed:
        raise ValidationError(result.problems)
    if not experiment.approved_at or experiment.approved_wording != selectors.wording_hash(experiment):
        raise ValidationError(
            _("A privacy officer must approve the variants as they are now before it starts.")
        )
    try:
        with transaction.atomic():
            for variant in experiment.variants.select_related("notice_version"):
                if not variant.notice_version.is_published:
                    mark_notice_version_published(version=variant.notice_version, starting_experiment=True)
            experiment.started_by, experiment.started_at = staff, timezone.now()
            experiment.save(update_fields=["started_by", "started_at"])
    except IntegrityError as error:
        raise ValidationError(_("Another experiment on this purpose is running; stop it first.")) from error


def stop_experiment(*, experiment: Experiment, staff, winner: str = "") -> None:
    """Stop assigning. With a winner (a variant's label), publish its wording as the purpose's current version:
    not a material change when it differs from the current wording in the value exchange alone, otherwise
    material (everyone is asked again). The losers stay in the record, shown to nobody."""
    if experiment.status != Experiment.Status.RUNNING:
        raise ValidationError(_("Only a running experiment can be stopped."))
    chosen = (
        experiment.variants.filter(label=winner).select_related("notice_version").first() if winner else None
    )
    if winner and chosen is None:
        raise ValidationError({"winner": _("No variant %(label)s in this experiment.") % {"label": winner}})
    found = selectors.results(experiment)
    with transaction.atomic():
        experiment.stopped_by, experiment.stopped_at = staff, timezone.now()
        experiment.stop_reason = Experiment.StopReason.WINNER if chosen else Experiment.StopReason.NO_WINNER
        experiment.stop_detail = _summary(found)
        experiment.winner = chosen
        if chosen:
            experiment.published_version = _publish_winner(experiment, chosen)
        experiment.save()


def _publish_winner(experiment: Experiment, winner: Variant) -> NoticeVersion | None:
    """A new current version with the winner's exact wording (none if the current one says exactly that)."""
    current = current_notice_version(experiment.purpose)
    texts = selectors.variant_texts(winner.notice_version)
    if current is not None and current.text_hash == winner.notice_version.text_hash:
        return None
    material = current is None or not value_exchange_only(texts, selectors.variant_texts(current))
    notice = Notice.objects.select_for_update().get(pk=winner.notice_version.notice_id)
    number = NoticeVersion.objects.filter(notice=notice).aggregate(top=Max("number"))["top"] + 1
    version = NoticeVersion.objects.create(
        notice=notice,
        number=number,
        material=material,
        change_summary={
            "en": f"The wording of variant {winner.label}, which won the experiment “{experiment.name}”.",
            "de": f"Der Wortlaut von Variante {winner.label}, die das Experiment „{experiment.name}“ gewann.",
        },
    )
    for language, text in texts.items():
        NoticeText.objects.create(version=version, language=language, **text)
    mark_notice_version_published(version=version)
    if material:
        # Possibly millions of write-path calls: the consent app's task does them (its sweeper if the queue is down).
        transaction.on_commit(lambda: queue_invalidation(version.pk))
    return version


def _summary(found: selectors.Results) -> dict:
    return {
        "arms": {arm.label: {"shown": arm.shown, "counts": arm.counts} for arm in found.arms},
        "sample_ratio_p": found.sample_ratio_p,
    }


def stop_on_guardrail_breaches() -> list[Experiment]:
    """Bring the arms' rollup up to date, then stop every running experiment where a variant is doing harm on a
    guardrail, and tell its admins.

    Celery beat runs it; returns the experiments it stopped."""
    roll_up_arms()
    stopped = []
    for experiment in selectors.running_experiments():
        found = selectors.results(experiment)
        if not found.breaches:
            continue
        breach = found.breaches[0]
        with transaction.atomic():
            locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
            if locked.status != Experiment.Status.RUNNING:
                continue
            locked.stopped_at = timezone.now()
            locked.stop_reason = Experiment.StopReason.GUARDRAIL
            locked.stop_detail = {**_summary(found), "label": breach.label, "metric": breach.metric.key}
            locked.save(update_fields=["stopped_at", "stop_reason", "stop_detail"])
        _tell_admins(locked, breach)
        stopped.append(locked)
    return stopped


def _tell_admins(experiment: Experiment, breach: selectors.Finding) -> None:
    """Mail whoever created and started it, and every marketing admin: in English and German."""
    recipients = {experiment.created_by.email, experiment.started_by.email if experiment.started_by else ""}
    group = Group.objects.filter(name="Marketing admin").first()
    if group:
        recipients |= set(group.user_set.filter(is_active=True).values_list("email", flat=True))
    lines = []
    for language in ("en", "de"):
        with translation.override(language):
            lines.append(
                f"{experiment.name} ({experiment.purpose}): {selectors.stopped_by_guardrail(breach.label, breach.metric)}"
            )
    with translation.override("en"):
        subject = _("Experiment stopped by a guardrail: %(name)s") % {"name": experiment.name}
    send_mail(subject, "\n\n".join(lines), settings.DEFAULT_FROM_EMAIL, sorted(r for r in recipients if r))


# --- the arms' rollup -------------------------------------------------------------------------------------------
#
# Each arm's figures (selectors.arm_counts) are counts of customers, added up as the rows that change them arrive,
# so the results page and the guardrail task never scan the exposures and the ledger. Each figure counts a
# customer once, at the one row that decides it:
#   shown        their first showing of the variant's version;
#   opt_in       their first opt-in (given, or awaiting confirmation) under it, when it came at or after that
#                first showing;
#   withdrawal   an opted-in customer's first withdrawal of the purpose after the opt-in, within 30 days of it;
#   unsubscribe  their first withdrawal of a whole channel after the first showing, within 30 days of it;
#   complaint    their first complaint (a provider's spam report) after the first showing, within 30 days of it;
#   deep         an opted-in customer whose latest personalization answer chose more than the least: their
#                depth when they opted in, then each later personalization answer's change to it.

ADD_ARM_COUNT = (
    "INSERT INTO experiments_armcount (variant_id, metric, count) VALUES (%s, %s, %s) "
    "ON CONFLICT (variant_id, metric) DO UPDATE SET count = experiments_armcount.count + excluded.count"
)


def add_arm_counts(counts: Counter) -> None:
    """Add ``{(variant id, metric): n}`` to the arms' counts in one statement (rows created as needed)."""
    rows = [(variant, metric, number) for (variant, metric), number in counts.items() if number]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(ADD_ARM_COUNT, rows)


@dataclass(frozen=True)
class Tracked:
    """The variants of every experiment that has started, by notice version: (variant id, purpose)."""

    arms: dict[int, tuple[int, str]]
    since: datetime | None  # the first start: no row before it can count

    @classmethod
    def now(cls) -> "Tracked":
        variants = Variant.objects.filter(experiment__started_at__isnull=False).values_list(
            "notice_version_id", "id", "experiment__purpose", "experiment__started_at"
        )
        arms = {version: (variant, purpose) for version, variant, purpose, _started in variants}
        starts = [started for *_rest, started in variants if started is not None]
        return cls(arms, min(starts, default=None))


@dataclass
class History:
    """What decides a customer's arm figures, read for the customers of one batch."""

    first_shown: dict[int, datetime] = field(default_factory=dict)  # version -> first showing
    first_opt_in: dict[int, tuple[int, datetime]] = field(default_factory=dict)  # version -> (sequence, time)
    withdrawals: list[tuple[str, int, datetime]] = field(default_factory=list)  # (purpose, sequence, time)
    personalization: list[tuple[int, str, dict | None]] = field(
        default_factory=list
    )  # (sequence, state, value)
    complaints: list[tuple[int, datetime]] = field(default_factory=list)  # (report id, received at)

    def opted_in(self, version: int) -> tuple[int, datetime] | None:
        """The customer's first opt-in under the version, if it counts: at or after their first showing."""
        opt_in = self.first_opt_in.get(version)
        return opt_in if opt_in and self.first_shown[version] <= opt_in[1] else None

    def deep(self, before: int, least: str) -> int:
        """1 if the latest personalization answer before sequence ``before`` chose more than the least."""
        latest = None
        for sequence, state, value in self.personalization:
            if sequence >= before:
                break
            latest = (state, value)
        return int(
            latest is not None
            and latest[0] == State.GIVEN
            and (latest[1] or {}).get("depth") not in (None, least)
        )


def _first_within(times: list[tuple[int, datetime]], order: int, at: datetime, since: datetime) -> bool:
    """Whether the row at (``order``, ``at``) is the first of ``times`` at or after ``since``, within the
    guardrail window of it."""
    window = since <= at <= since + selectors.GUARDRAIL_WINDOW
    return window and not any(earlier < order and when >= since for earlier, when in times)


def _histories(customers: set[int], tracked: Tracked) -> dict[int, History]:
    """The histories of those ``customers`` who were shown a variant (the others change no arm)."""
    histories: dict[int, History] = defaultdict(History)
    versions = list(tracked.arms)
    for customer, version, first in (
        Exposure.objects.filter(customer_id__in=customers, notice_version_id__in=versions)
        .values_list("customer_id", "notice_version_id")
        .annotate(first=Min("shown_at"))
        .order_by()
    ):
        histories[customer].first_shown[version] = first
    shown = list(histories)
    opt_ins = (
        ConsentEvent.objects.filter(
            customer_id__in=shown, notice_version_id__in=versions, state__in=selectors.OPT_IN
        )
        .order_by("customer_id", "notice_version_id", "sequence")
        .distinct("customer_id", "notice_version_id")
        .values_list("customer_id", "notice_version_id", "sequence", "recorded_at")
    )
    for customer, version, sequence, at in opt_ins:
        histories[customer].first_opt_in[version] = (sequence, at)
    purposes = {purpose for _variant, purpose in tracked.arms.values()}
    for customer, purpose, sequence, at in (
        ConsentEvent.objects.filter(customer_id__in=shown, state=State.WITHDRAWN)
        .filter(Q(purpose__in=purposes) | Q(purpose__startswith="channel:"))
        .values_list("customer_id", "purpose", "sequence", "recorded_at")
    ):
        histories[customer].withdrawals.append((purpose, sequence, at))
    for customer, sequence, state, value in (
        ConsentEvent.objects.filter(customer_id__in=shown, purpose="personalization")
        .order_by("customer_id", "sequence")
        .values_list("customer_id", "sequence", "state", "value")
    ):
        histories[customer].personalization.append((sequence, state, value))
    for customer, report, at in InboundReport.objects.filter(
        customer_id__in=shown, kind__in=COMPLAINT_KINDS
    ).values_list("customer_id", "id", "received_at"):
        histories[customer].complaints.append((report, at))
    return histories


def tally_arm_events(events: list[dict], tracked: Tracked) -> Counter:
    """What a batch of ledger events adds to the arms' counts (the rules above)."""
    histories = _histories({event["customer_id"] for event in events}, tracked)
    least = (catalog_rules().options.get("personalization") or ("none",))[0]
    counts: Counter = Counter()
    for event in events:
        history = histories.get(event["customer_id"])
        if history is None:
            continue
        sequence, at, purpose = event["sequence"], event["recorded_at"], event["purpose"]
        withdrawn = event["state"] == State.WITHDRAWN
        for version, first_shown in history.first_shown.items():
            variant, experiment_purpose = tracked.arms[version]
            opt_in = history.opted_in(version)
            if opt_in and sequence == opt_in[0]:
                counts[(variant, "opt_in")] += 1
                counts[(variant, "deep")] += history.deep(sequence + 1, least)
            elif opt_in and purpose == "personalization" and sequence > opt_in[0]:
                counts[(variant, "deep")] += history.deep(sequence + 1, least) - history.deep(sequence, least)
            if withdrawn and opt_in and purpose == experiment_purpose:
                earlier = [(s, t) for p, s, t in history.withdrawals if p == experiment_purpose]
                counts[(variant, "withdrawal")] += _first_within(earlier, sequence, at, opt_in[1])
            if withdrawn and Purpose.parse(purpose).is_channel:
                earlier = [(s, t) for p, s, t in history.withdrawals if Purpose.parse(p).is_channel]
                counts[(variant, "unsubscribe")] += _first_within(earlier, sequence, at, first_shown)
    return counts


def tally_arm_exposures(exposures: list[dict], tracked: Tracked) -> Counter:
    """Each customer's first showing of a variant."""
    return Counter(
        (tracked.arms[exposure["notice_version_id"]][0], "shown")
        for exposure in exposures
        if not exposure["shown_before"]
    )


def tally_arm_reports(reports: list[dict], tracked: Tracked) -> Counter:
    """Each shown customer's first complaint within 30 days of the showing."""
    histories = _histories({report["customer_id"] for report in reports}, tracked)
    counts: Counter = Counter()
    for report in reports:
        history = histories.get(report["customer_id"]) or History()
        for version, first_shown in history.first_shown.items():
            counts[(tracked.arms[version][0], "complaint")] += _first_within(
                history.complaints, report["id"], report["received_at"], first_shown
            )
    return counts


def _arm_events(tracked: Tracked):
    relevant = (
        Q(notice_version_id__in=list(tracked.arms), state__in=selectors.OPT_IN)
        | Q(state=State.WITHDRAWN, purpose__in={purpose for _variant, purpose in tracked.arms.values()})
        | Q(state=State.WITHDRAWN, purpose__startswith="channel:")
        | Q(purpose="personalization")
    )
    return (
        ConsentEvent.objects.filter(relevant, recorded_at__gte=tracked.since)
        .order_by("id")
        .values("id", "customer_id", "sequence", "purpose", "state", "recorded_at")
    )


def _arm_exposures(tracked: Tracked):
    shown_before = Exposure.objects.filter(
        customer_id=OuterRef("customer_id"),
        notice_version_id=OuterRef("notice_version_id"),
        id__lt=OuterRef("id"),
    )
    return (
        Exposure.objects.filter(notice_version_id__in=list(tracked.arms))
        .annotate(shown_before=Exists(shown_before))
        .order_by("id")
        .values("id", "notice_version_id", "shown_at", "shown_before")
    )


def _arm_reports(tracked: Tracked):
    return (
        InboundReport.objects.filter(
            kind__in=COMPLAINT_KINDS, customer__isnull=False, received_at__gte=tracked.since
        )
        .order_by("id")
        .values("id", "customer_id", "received_at")
    )


def _arm_sources(tracked: Tracked) -> dict[str, Source]:
    """Each source's relevant rows in id order, their time field, and what a batch of them adds to the arms'
    counts, for the experiments started so far."""
    return {
        "events": Source(
            partial(_arm_events, tracked), "recorded_at", partial(tally_arm_events, tracked=tracked)
        ),
        "exposures": Source(
            partial(_arm_exposures, tracked), "shown_at", partial(tally_arm_exposures, tracked=tracked)
        ),
        "reports": Source(
            partial(_arm_reports, tracked), "received_at", partial(tally_arm_reports, tracked=tracked)
        ),
    }


def roll_up_arms(*, now: datetime | None = None, batches: int | None = None) -> dict[str, int]:
    """Add what happened since the last run to the arms' counts, as the insights rollup does (``apps.rollups``,
    with its settings). Returns rows counted.

    Before any experiment starts there is nothing to count, and the marks stay where they are."""
    tracked = Tracked.now()
    sources = _arm_sources(tracked)
    if tracked.since is None:
        return dict.fromkeys(sources, 0)
    return rollups.roll_up(ArmRollupMark, sources, add_arm_counts, now=now, batches=batches)
