from django.shortcuts import render

from apps.experiments.selectors import latest_verdicts
from apps.insights.selectors import insights as insights_figures

from ..access import staff_page
from ..forms import InsightsFilter


@staff_page("view_insights")
def insights(request):
    """What customers choose, from the rollups beat keeps (aggregates only: no customer is shown or logged)."""
    form = InsightsFilter(request.GET)
    if not form.is_valid():
        return render(request, "support/insights.html", {"form": form}, status=400)
    figures = insights_figures(
        language=form.cleaned_data["language"],
        population=form.cleaned_data["population"] or "everyone",
        weeks=form.cleaned_data["weeks"] or 12,
        ui_language=request.LANGUAGE_CODE,
    )
    return render(
        request,
        "support/insights.html",
        {"form": form, "figures": figures, "experiments": latest_verdicts()},
    )
