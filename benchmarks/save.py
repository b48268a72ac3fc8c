"""Server time of the preference page against a bare Django view, in the same process and the same run.

Three request kinds go through Django's full handler and middleware (test client, no network), interleaved in
rounds so machine noise hits all alike:
  * save   - one htmx save of the channels section (record_choices, snapshot, permission document, outbox);
  * profile - one htmx save of "What you tell us" (the size answered anew: the answer kept in its erasable
             table, the event with its id and keyed hash, the next permission document);
  * page   - a GET of the whole preference page;
  * bare   - a bare function view doing one indexed single-row UPDATE on the same database.
Prints p50/p95 in ms and requests per second for each, and each one's ratio against the bare view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor .venv/bin/python benchmarks/save.py
"""

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
from bench_database import sized, use_bench_database

use_bench_database("_prefbench")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402

from apps.catalog.selectors import current_notice_version  # noqa: E402
from apps.customers.links import make_token  # noqa: E402
from apps.customers.models import Customer  # noqa: E402
from apps.customers.services import customer_upsert  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", sized(5, 1)))
PER_ROUND = int(os.environ.get("PER_ROUND", sized(100, 2)))


def bare(request, pk):
    Customer.objects.filter(pk=pk).update(name=f"n{time.monotonic_ns() % 1000}")
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/<int:pk>/", bare), path("", include("config.urls"))]


def main():
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=0, stdout=open(os.devnull, "w"))  # noqa: SIM115 (the catalog only)
    # A new customer each run: the database is kept between runs, and the saves below assume push starts off.
    customer, _ = customer_upsert(external_id=f"prefbench-{uuid.uuid4().hex[:12]}", email="bench@example.com")
    client = Client()
    client.get(reverse("preferences:link", args=[make_token(customer)]))
    versions = {
        f"nv:channel:{code}": str(current_notice_version(f"channel:{code}").pk)
        for code in ("email", "sms", "push", "postal", "phone")
    }
    size_version = str(current_notice_version("profile:size").pk)
    page_url, bare_url = reverse("preferences:page"), f"/bench/bare/{customer.pk}/"
    state = {"on": False, "size": "m"}

    def save():
        state["on"] = not state["on"]
        data = {"section": "channels", "channel": ["push"] if state["on"] else [], **versions}
        response = client.post(page_url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.content[:300]
        assert b"Saved:" in response.content, response.content[:300]

    def profile():
        state["size"] = "l" if state["size"] == "m" else "m"
        data = {"section": "profile", "profile:size": state["size"], "nv:profile:size": size_version}
        response = client.post(page_url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.content[:300]
        assert b"Saved:" in response.content, response.content[:300]

    def page():
        assert client.get(page_url).status_code == 200

    def bare_view():
        assert client.get(bare_url).status_code == 200

    kinds = {"save": save, "profile": profile, "page": page, "bare": bare_view}
    if os.environ.get("PROFILE") in kinds:  # PROFILE=save: where one kind's time goes, instead of the figures
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [kinds[os.environ["PROFILE"]]() for _ in range(50)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    times = {name: [] for name in kinds}
    for fn in kinds.values():  # warm up caches and connections
        for _ in range(sized(10, 1)):
            fn()
    for _ in range(ROUNDS):
        for name, fn in kinds.items():
            for _ in range(PER_ROUND):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)

    def stats(values):
        ordered = sorted(values)
        return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1], len(values) / sum(values)

    base = stats(times["bare"])
    print(f"{ROUNDS} rounds x {PER_ROUND} requests each, {settings.DATABASES['default']['ENGINE']}")
    for name in kinds:
        p50, p95, rps = stats(times[name])
        print(
            f"{name:7} p50 {p50 * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms  {rps:7.1f} req/s"
            f"  ratio to bare: {rps / base[2]:.2f}"
        )


if __name__ == "__main__":
    main()
