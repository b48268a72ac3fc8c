"""Which variant a customer sees, and how each variant is doing (docs/experiments.md). Reads only."""

import hashlib
import hmac
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from apps.catalog.models import NoticeText, NoticeVersion
from apps.catalog.selectors import catalog_rules
from apps.consent.entries import Choices, SnapshotEntry
from apps.consent.rules import State

from . import statistics
from .lint import LintResult, lint_variants
from .models import ArmCount, ArmRollupMark, Experiment, Variant

OPT_IN = (State.GIVEN, State.REQUESTED)
GUARDRAIL_WINDOW = timedelta(days=30)


def running_experiments() -> list[Experiment]:
    return list(
        Experiment.objects.filter(started_at__isnull=False, stopped_at__isnull=True).prefetch_related(
            "variants"
        )
    )


def latest_verdicts(limit: int = 5) -> list[tuple[Experiment, list[str]]]:
    """The experiments started most lately, each with what its results say (from the arms' rollup)."""
    started = Experiment.objects.filter(started_at__isnull=False).order_by("-started_at")[:limit]
    return [(experiment, verdicts(experiment, results(experiment))) for experiment in started]


def counted_at() -> datetime | None:
    """When the arms' rollup last ran (the figures are as of then), or None before it first has."""
    return ArmRollupMark.objects.aggregate(at=Min("ran_at"))["at"]


def assigned_variant(experiment: Experiment, customer_id: int) -> Variant:
    """The customer's arm: a keyed hash of customer and experiment, placed on the configured split.

    Deterministic and sticky: the same customer always lands in the same arm, and nobody can predict or steer
    the arm without the key (``EXPERIMENT_ASSIGNMENT_KEY``).
    """
    digest = hmac.new(
        settings.EXPERIMENT_ASSIGNMENT_KEY.encode(),
        f"experiment:{experiment.pk}:customer:{customer_id}".encode(),
        hashlib.sha256,
    ).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * 100
    variants = sorted(experiment.variants.all(), key=lambda variant: variant.label)
    for variant in variants:
        point -= variant.weight
        if point < 0:
            return variant
    return variants[-1]


def versions_shown(customer_id: int, choices: Choices, current: dict[str, int]) -> dict[str, int]:
    """Per purpose, the id of the notice version this customer sees: ``current`` (the purpose's current version),
    or, while an experiment on the purpose runs, the customer's arm's variant.

    A customer who already answered the purpose outside the experiment stays out of it: an experiment never
    asks anyone again. One who answered under the experiment keeps seeing their arm (the words they chose by).
    """
    shown = dict(current)
    for experiment in running_experiments():
        entry = SnapshotEntry.of(choices, experiment.purpose)
        versions = {variant.notice_version_id for variant in experiment.variants.all()}
        if entry is None or entry.notice_version in versions:
            shown[experiment.purpose] = assigned_variant(experiment, customer_id).notice_version_id
    return shown


def variant_texts(version: NoticeVersion) -> dict[str, dict[str, str]]:
    """Per language, every part of the version's wording (the example blank when it gives none)."""
    return {
        text.language: {part: getattr(text, part) for part in NoticeText.WORDING_FIELDS}
        for text in version.texts.all()
    }


def lint(experiment: Experiment) -> LintResult:
    variants = experiment.variants.select_related("notice_version__notice").prefetch_related(
        "notice_version__texts"
    )
    notice = variants[0].notice_version.notice if variants else None
    return lint_variants(
        purpose=experiment.purpose,
        rules=catalog_rules(),
        titles=notice.title if notice else {},
        variants=[variant_texts(variant.notice_version) for variant in variants],
    )


def wording_hash(experiment: Experiment) -> str:
    """What a privacy officer approves: every variant's wording and weight. Any change after the approval
    (e.g. a draft text edited in the admin) changes it, and the experiment cannot start."""
    parts = [
        f"{variant.label}:{variant.weight}:{variant.notice_version.compute_text_hash()}"
        for variant in experiment.variants.select_related("notice_version").order_by("label")
    ]
    return hashlib.sha256("|".join([experiment.purpose, *parts]).encode()).hexdigest()


# --- results --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    harmful: str  # "higher" or "lower": the direction that breaches the guardrail

    def title(self) -> str:
        return {
            "opt_in": _("opt-in rate"),
            "withdrawal": _("30-day withdrawals"),
            "unsubscribe": _("unsubscribe-all"),
            "complaint": _("complaints"),
            "depth": _("personalization depth"),
        }[self.key]


OPT_IN_RATE = Metric("opt_in", "lower")
GUARDRAILS = (
    Metric("withdrawal", "higher"),
    Metric("unsubscribe", "higher"),
    Metric("complaint", "higher"),
    Metric("depth", "lower"),
)

METRICS = {metric.key: metric for metric in (OPT_IN_RATE, *GUARDRAILS)}


@dataclass(frozen=True)
class Arm:
    label: str
    weight: int
    shown: int
    # metric key -> (customers it happened to, customers it could happen to)
    counts: dict[str, tuple[int, int]]

    def rate(self, key: str) -> float | None:
        happened, of = self.counts[key]
        return happened / of if of else None


def arm_counts(variant: Variant, counted: dict[str, int]) -> Arm:
    """Who was shown the variant, who opted in under it, and what happened to them within 30 days, from the
    arms' rollup (``counted``: the variant's ``ArmCount`` rows; services.roll_up_arms keeps them).

    Shown: customers shown the variant's notice version. Opted in: those of them who gave consent (or asked for
    it, pending confirmation) under it after it was shown. Withdrawal: opted in, then withdrew the purpose within
    30 days. Unsubscribe-all: shown, then withdrew a whole channel within 30 days. Complaint: shown, then marked a
    message as spam within 30 days. Depth: opted in, and chose personalization beyond the least.
    """
    shown, opted = counted.get("shown", 0), counted.get("opt_in", 0)
    return Arm(
        label=variant.label,
        weight=variant.weight,
        shown=shown,
        counts={
            "opt_in": (opted, shown),
            "withdrawal": (counted.get("withdrawal", 0), opted),
            "unsubscribe": (counted.get("unsubscribe", 0), shown),
            "complaint": (counted.get("complaint", 0), shown),
            "depth": (counted.get("deep", 0), opted),
        },
    )


def arm_figures(experiment: Experiment) -> list[Arm]:
    """Every variant's figures, A first: one read of the rollup."""
    counted: dict[int, dict[str, int]] = defaultdict(dict)
    for variant_id, metric, count in ArmCount.objects.filter(variant__experiment=experiment).values_list(
        "variant_id", "metric", "count"
    ):
        counted[variant_id][metric] = count
    return [arm_counts(variant, counted[variant.pk]) for variant in experiment.variants.order_by("label")]


@dataclass(frozen=True)
class Finding:
    label: str
    metric: Metric
    comparison: statistics.Comparison

    @property
    def breach(self) -> bool:
        worse = self.comparison.low > 0 if self.metric.harmful == "higher" else self.comparison.high < 0
        return self.metric in GUARDRAILS and worse


@dataclass(frozen=True)
class Results:
    arms: list[Arm]
    enough: bool
    sample_ratio_p: float
    findings: list[Finding]  # each variant against the control (A), on every metric with enough customers

    @property
    def sample_ratio_mismatch(self) -> bool:
        return self.sample_ratio_p < statistics.SRM_ALPHA

    @property
    def breaches(self) -> list[Finding]:
        return (
            [finding for finding in self.findings if finding.breach] if not self.sample_ratio_mismatch else []
        )

    def primary(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.metric is OPT_IN_RATE]


def results(experiment: Experiment) -> Results:
    arms = arm_figures(experiment)
    minimum = settings.EXPERIMENT_MIN_PER_ARM
    enough = bool(arms) and all(arm.shown >= minimum for arm in arms)
    findings = []
    for arm in arms[1:]:
        for metric in (OPT_IN_RATE, *GUARDRAILS):
            a, b = arms[0].counts[metric.key], arm.counts[metric.key]
            if min(a[1], b[1]) >= minimum:
                findings.append(Finding(arm.label, metric, statistics.compare(a, b)))
    return Results(
        arms=arms,
        enough=enough,
        sample_ratio_p=statistics.sample_ratio_p_value(
            [arm.shown for arm in arms], [arm.weight for arm in arms]
        ),
        findings=findings,
    )


def points(rate: float) -> str:
    return number_format(rate * 100, decimal_pos=1, use_l10n=True)


def verdicts(experiment: Experiment, found: Results) -> list[str]:
    """What the page says, plainly, in the staff member's language."""
    if experiment.stop_reason == Experiment.StopReason.GUARDRAIL:
        detail = experiment.stop_detail
        return [stopped_by_guardrail(detail["label"], METRICS[detail["metric"]])]
    if not found.enough:
        return [
            _("Not enough data yet: every variant needs %(minimum)s customers shown it.")
            % {"minimum": settings.EXPERIMENT_MIN_PER_ARM}
        ]
    if found.sample_ratio_mismatch:
        return [
            _(
                "Sample ratio mismatch: the variants' sizes are far from the configured split, so the results are "
                "not trusted. Check assignment and exposure recording."
            )
        ]
    lines = []
    for finding in found.primary():
        c = finding.comparison
        values = {
            "label": finding.label,
            "difference": points(abs(c.difference)),
            "low": points(c.low),
            "high": points(c.high),
        }
        if c.low > 0:
            lines.append(
                _("%(label)s beats A by %(difference)s points (95 %% interval %(low)s–%(high)s).") % values  # noqa: RUF001
            )
        elif c.high < 0:
            lines.append(
                _("A beats %(label)s by %(difference)s points (95 %% interval %(low)s–%(high)s).") % values  # noqa: RUF001
            )
        else:
            lines.append(
                _("No difference between %(label)s and A yet (95 %% interval %(low)s–%(high)s points).")  # noqa: RUF001
                % values
            )
    return lines


def stopped_by_guardrail(label: str, metric: Metric) -> str:
    values = {"label": label, "metric": metric.title()}
    if metric.harmful == "higher":
        return _("Stopped: %(label)s raised %(metric)s.") % values
    return _("Stopped: %(label)s lowered %(metric)s.") % values
