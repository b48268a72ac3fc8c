from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from ..access import staff_page
from ..selectors import search_customers
from ..services import record_search
from .fragments import partial_answer


@staff_page("search_customers")
@vary_on_headers("HX-Request")
def search(request):
    query = request.GET.get("q", "")
    after = request.GET.get("after", "")
    page = search_customers(query, after=int(after) if after.isdigit() else None)
    if page.query:
        record_search(staff=request.user, query=page.query, shown=[row.pk for row in page.customers])
    template = "support/search.html#results" if partial_answer(request) else "support/search.html"
    return render(request, template, {"page": page})
