"""What a first visit to the preference page downloads, compressed, against the 60 KB budget.

The page is fetched through Django's full handler (test client, a demo customer with choices in every section,
German and English); every stylesheet and script it links is read from the static files (or fetched, for
/brand.css), and each is gzip-compressed at level 6 as a server would send it. Prints each resource, the total,
and the total's ratio to the budget. Size, unlike time, needs no baseline run beside it: the budget is the bar.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor .venv/bin/python benchmarks/page_weight.py
"""

import gzip
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
from bench_database import use_bench_database

use_bench_database("_weightbench")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from apps.customers.links import make_token  # noqa: E402
from apps.customers.models import Customer  # noqa: E402

BUDGET = 60 * 1024
LINKED = re.compile(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"')


def compressed(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6))


def first_load(client: Client, path: str) -> dict[str, tuple[int, int]]:
    """Each resource of a first visit: raw and compressed bytes."""
    html = client.get(path, follow=True).content
    sizes = {path: (len(html), compressed(html))}
    for url in LINKED.findall(html.decode()):
        if url.startswith(settings.STATIC_URL) or url.startswith("/" + settings.STATIC_URL):
            body = Path(finders.find(url.split(settings.STATIC_URL, 1)[1])).read_bytes()
        else:
            body = client.get(url).content
        sizes[url] = (len(body), compressed(body))
    return sizes


def main():
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=3, stdout=open(os.devnull, "w"))  # noqa: SIM115
    # The demo customer with the most history: the fullest page a customer meets.
    customer = max(Customer.objects.all(), key=lambda c: c.consent_events.count())
    for language in ("en", "de"):
        client = Client(headers={"accept-language": language})
        client.get(reverse("preferences:link", args=[make_token(customer)]))
        client.post(reverse("preferences:language"), {"language": language, "next": "/"})
        for name in ("preferences:page", "preferences:history", "preferences:leave"):
            sizes = first_load(client, reverse(name))
            total = sum(size for _, size in sizes.values())
            print(
                f"{language} {reverse(name)}: {total / 1024:5.1f} KB compressed, {total / BUDGET:.2f} of the budget"
            )
            for url, (raw, size) in sizes.items():
                print(f"    {url:48} {raw / 1024:6.1f} KB raw  {size / 1024:5.1f} KB gzip")


if __name__ == "__main__":
    main()
