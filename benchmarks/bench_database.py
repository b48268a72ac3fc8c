"""Each benchmark works in a PostgreSQL database of its own beside DATABASE_URL's, created on first use."""

import os
import sys

import psycopg


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
    os.environ["DATABASE_URL"] = base + suffix
    ensure_database(os.environ["DATABASE_URL"])
