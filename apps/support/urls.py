from django.urls import path

from .views import (
    access_log,
    change,
    customer,
    deliveries,
    enrol,
    explain,
    imports,
    insights,
    ledger,
    proof,
    requests,
    review,
    sandbox,
    search,
    sign_in,
    timeline,
)

app_name = "support"

urlpatterns = [
    path("sign-in/", sign_in.sign_in, name="sign_in"),
    path("enrol/<str:token>/", enrol.enrol, name="enrol"),
    path("", search.search, name="search"),
    path("customers/<int:customer_id>/", customer.glance, name="customer"),
    path("customers/<int:customer_id>/timeline/", timeline.timeline, name="timeline"),
    path("customers/<int:customer_id>/explain/", explain.explain, name="explain"),
    path("customers/<int:customer_id>/change/", change.change, name="change"),
    path("customers/<int:customer_id>/deliveries/", deliveries.deliveries, name="deliveries"),
    path(
        "customers/<int:customer_id>/deliveries/<int:delivery_id>/retry/",
        deliveries.retry,
        name="retry_delivery",
    ),
    path("customers/<int:customer_id>/proof/", proof.proof_print, name="proof"),
    path("customers/<int:customer_id>/proof.json", proof.proof_json, name="proof_json"),
    path("customers/<int:customer_id>/access-export.json", requests.access_export, name="access_export"),
    path("customers/<int:customer_id>/erase/", requests.erase, name="erase"),
    path("access-log/", access_log.access_log, name="access_log"),
    path("ledger/", ledger.verify, name="ledger"),
    path("insights/", insights.insights, name="insights"),
    path("sandbox/", sandbox.sandbox, name="sandbox"),
    path("sandbox/<slug:name>/", sandbox.sandbox, name="sandbox_for"),
    path("imports/", imports.imports, name="imports"),
    path("imports/<int:run_id>/", imports.import_run, name="import_run"),
    path("review/", review.queue, name="review"),
    path("review/<int:message_id>/", review.decide, name="review_decide"),
]
