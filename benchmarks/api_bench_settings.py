"""Settings for serving Candor under gunicorn in ``benchmarks/api.py``: the project's, with a URLconf that adds
one bare baseline view."""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "api_bench_urls"
DEBUG = False
