"""Creating, approving, starting and stopping experiments (docs/experiments.md).

Variants are notice versions marked ``experimental``: published when the experiment starts, so the write path
accepts choices under them and proof shows their exact words, yet never a purpose's current version. Stopping
with a winner publishes the winner's wording anew as the current version.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.catalog.models import Notice, NoticeText, NoticeVersion
from apps.catalog.selectors import current_notice_version
from apps.consent.services import mark_notice_version_published
from apps.consent.tasks import queue_invalidation

from . import selectors
from .lint import MAX_VARIANTS, MIN_VARIANTS, PARTS, labels, value_exchange_only
from .models import Experiment, Variant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantSpec:
    texts: dict[str, dict[str, str]]  # language -> part -> text
    weight: int


def variants_from_current(purpose: str, offers: list[tuple[dict[str, str], int]]) -> list[VariantSpec]:
    """Variants that say what the purpose's current notice says, each with its own value exchange: ``offers``
    holds per variant (language -> what you get, weight)."""
    current = current_notice_version(purpose)
    base = selectors.variant_texts(current) if current else {}
    return [
        VariantSpec(
            texts={
                language: {**base.get(language, {}), "what_you_get": value}
                for language, value in values.items()
            },
            weight=weight,
        )
        for values, weight in offers
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
                    **{part: str(text.get(part, "")).strip() for part in PARTS},
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
    """Stop every running experiment where a variant is doing harm on a guardrail, and tell its admins.

    Celery beat runs it; returns the experiments it stopped."""
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
