import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("candor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task=None, **kwargs):
    """Close a database connection that is too old or broken, as Django does around each request (the worker
    otherwise keeps it: ``CELERY_DB_REUSE_MAX``). Not for a task run eagerly inside someone's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
