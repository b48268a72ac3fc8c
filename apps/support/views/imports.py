"""A privacy officer's upload of another system's export: ``apps.imports`` works it in a Celery task while the
run's page shows its progress (htmx polls the panel; without JavaScript the page refreshes itself)."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.vary import vary_on_headers

from apps.imports.models import ImportRun
from apps.imports.selectors import import_runs, run_progress

from ..access import staff_page
from ..forms import ImportForm
from ..services import start_upload_import
from .fragments import partial_answer

RUNS_SHOWN = 50


# It writes consent for many customers at once: the password and the code proved again, as for an erasure.
@staff_page("import_consents", methods=("GET", "POST"), recent=True)
def imports(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = start_upload_import(
                staff=request.user,
                upload=data["file"],
                mapping=data["map"],
                fmt=data["format"],
                source=data["source"],
                dry_run=data["dry_run"],
                exported_at=data["exported_at"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("support:import_run", run.pk)
    return render(
        request,
        "support/imports.html",
        {"form": form, "runs": import_runs()[:RUNS_SHOWN]},
        status=400 if form.errors else 200,
    )


@staff_page("import_consents")
@vary_on_headers("HX-Request")
def import_run(request, run_id: int):
    run = get_object_or_404(ImportRun, pk=run_id)
    template = (
        "support/partials/import_progress.html" if partial_answer(request) else "support/import_run.html"
    )
    return render(request, template, {"run": run, "progress": run_progress(run)})
