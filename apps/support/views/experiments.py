"""Experiments on the value exchange (apps/experiments): a marketing admin creates, starts and stops them, a
privacy officer approves their wording, both read the results."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from apps.catalog.selectors import catalog_rules
from apps.experiments import selectors, services
from apps.experiments.models import Experiment

from ..access import staff_page
from ..forms import ExperimentForm


@staff_page("view_experiments")
def experiments(request):
    return render(request, "support/experiments.html", {"experiments": Experiment.objects.all()})


@staff_page("run_experiments", methods=("GET", "POST"))
def create(request):
    form = ExperimentForm(request.POST or None, purposes=catalog_rules().purposes())
    if request.method == "POST" and form.is_valid():
        purpose = form.cleaned_data["purpose"]
        try:
            experiment = services.create_experiment(
                staff=request.user,
                name=form.cleaned_data["name"],
                purpose=purpose,
                variants=services.variants_from_current(purpose, form.offers()),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("support:experiment", experiment.pk)
    return render(request, "support/experiment_new.html", {"form": form}, status=400 if form.errors else 200)


@staff_page("view_experiments")
def experiment(request, experiment_id: int):
    found = get_object_or_404(Experiment, pk=experiment_id)
    results = selectors.results(found)
    variants = found.variants.select_related("notice_version").prefetch_related("notice_version__texts")
    return render(
        request,
        "support/experiment.html",
        {
            "experiment": found,
            "variants": [(variant, selectors.variant_texts(variant.notice_version)) for variant in variants],
            "lint": selectors.lint(found) if found.status == Experiment.Status.DRAFT else None,
            "results": results,
            "verdicts": selectors.verdicts(found, results),
            "counted_at": selectors.counted_at(),
            "approval_current": found.approved_at and found.approved_wording == selectors.wording_hash(found),
        },
    )


def _act(request, experiment_id: int, action, done: str):
    found = get_object_or_404(Experiment, pk=experiment_id)
    try:
        action(found)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("support:experiment", found.pk)


@staff_page("approve_experiments", methods=("POST",))
def approve(request, experiment_id: int):
    return _act(
        request,
        experiment_id,
        lambda found: services.approve_experiment(experiment=found, staff=request.user),
        _("Approved: the variants may start as they are now."),
    )


@staff_page("run_experiments", methods=("POST",))
def start(request, experiment_id: int):
    return _act(
        request,
        experiment_id,
        lambda found: services.start_experiment(experiment=found, staff=request.user),
        _("Started: customers who have not answered yet see their variant."),
    )


@staff_page("run_experiments", methods=("POST",))
def stop(request, experiment_id: int):
    return _act(
        request,
        experiment_id,
        lambda found: services.stop_experiment(
            experiment=found, staff=request.user, winner=request.POST.get("winner", "")
        ),
        _("Stopped."),
    )
