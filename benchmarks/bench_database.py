"""What every benchmark shares: a PostgreSQL database of its own beside DATABASE_URL's, and its size.

``BENCHMARK_SIZE=tiny`` runs a benchmark once at a tiny size, in databases of its own (``…_tiny``), so that the
test suite can show each one still runs in seconds without touching the seeds of full-size runs. Figures from a
tiny run mean nothing.
"""

import os
import sys

import psycopg

TINY = os.environ.get("BENCHMARK_SIZE") == "tiny"


def sized(normal, tiny):
    """``normal``, or ``tiny`` when the benchmark runs at its tiny size."""
    return tiny if TINY else normal


def ensure_database(url: str) -> None:
    """Create the database ``url`` names on its server unless it exists (asked through the ``postgres`` one)."""
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


def use_bench_database(suffix: str) -> None:
    """Point DATABASE_URL at ``<its database name><suffix>`` on the same server, creating it if needed.

    Call before ``django.setup()``; exits with a message when DATABASE_URL is not PostgreSQL.
    """
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit(
            f"Set DATABASE_URL to a PostgreSQL database (the benchmark creates and uses <name>{suffix})."
        )
    os.environ["DATABASE_URL"] = base + suffix + sized("", "_tiny")
    ensure_database(os.environ["DATABASE_URL"])
