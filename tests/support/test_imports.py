"""A privacy officer uploads an export; a Celery task imports it through the write path while the page polls."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.consent.models import ConsentEvent
from apps.customers.models import Customer
from apps.imports.models import ImportRun
from apps.support.models import StaffAccess
from tests.imports.conftest import FIXTURES, legacy_notices  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("legacy_notices", "eager_celery")


@pytest.fixture(autouse=True)
def _upload_dir(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"


def upload(client, *, dry_run="no", mapping=None, name="mailchimp_subscribed.csv", fmt="mailchimp"):
    data = {
        "file": SimpleUploadedFile(name, (FIXTURES / name).read_bytes()),
        "format": fmt,
        "source": "mailchimp",
        "dry_run": dry_run,
    }
    if mapping is not None:
        data["map"] = SimpleUploadedFile("topics.toml", mapping)
    return client.post(reverse("support:imports"), data)


def test_an_upload_is_imported_by_the_task_and_its_events_are_traced_to_the_run(
    officer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(officer_client, mapping=(FIXTURES / "topics.toml").read_bytes())

    run = ImportRun.objects.get()
    assert response["Location"] == reverse("support:import_run", args=[run.pk])
    assert run.finished_at
    assert not run.error
    assert run.total_rows == run.summary["rows"] == 4
    assert ConsentEvent.objects.filter(evidence__import_run=run.pk).count() == sum(
        run.summary["events"].values()
    )
    assert run.summary["customers_created"] == 2


def test_the_run_page_shows_the_outcome_counts(officer_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(officer_client)
    run = ImportRun.objects.get()

    page = officer_client.get(reverse("support:import_run", args=[run.pk]))

    assert b"4 of 4 rows" in page.content
    assert f"Customers created</dt><dd>{run.summary['customers_created']}".encode() in page.content
    assert b"hx-trigger" not in page.content  # finished: no more polling


def test_a_running_import_is_polled_by_htmx_with_a_refresh_for_browsers_without_javascript(officer_client):
    upload(officer_client)  # the task is queued on commit, which this test never reaches
    run = ImportRun.objects.get()

    page = officer_client.get(reverse("support:import_run", args=[run.pk]))
    panel = officer_client.get(reverse("support:import_run", args=[run.pk]), headers={"HX-Request": "true"})

    assert b'hx-trigger="every 2s"' in page.content
    assert b'<noscript><meta http-equiv="refresh"' in page.content
    assert panel.content.lstrip().startswith(b'<section id="import-progress"')
    assert b"0 of 4 rows" in panel.content


def test_a_dry_run_writes_nothing_and_reports_what_it_would_do(
    officer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(officer_client, dry_run="yes")

    run = ImportRun.objects.get()
    assert run.dry_run
    assert run.finished_at
    assert run.summary["customers_created"] == 3  # as the real run would (without a mapping)
    assert (Customer.objects.count(), ConsentEvent.objects.count()) == (0, 0)


def test_starting_an_import_is_in_the_staff_access_log(officer, officer_client):
    upload(officer_client, dry_run="yes")

    entry = StaffAccess.objects.get(what=StaffAccess.What.IMPORT)
    assert entry.staff == officer
    assert entry.detail == f"run={ImportRun.objects.get().pk} format=mailchimp source=mailchimp dry_run=True"


def test_a_mapping_that_does_not_validate_is_a_form_error_and_starts_nothing(officer_client, settings):
    response = upload(officer_client, mapping=b'[topics]\n"Newsletter" = "no-such-topic"\n')

    assert response.status_code == 400
    assert "no topic" in " ".join(response.context["form"].errors["map"])
    assert not ImportRun.objects.exists()
    assert list(settings.IMPORT_UPLOAD_DIR.iterdir()) == []


def test_a_file_that_does_not_read_is_a_form_error(officer_client):
    response = officer_client.post(
        reverse("support:imports"),
        {
            "file": SimpleUploadedFile("audience.csv", b"\xff\xfe\x00garbage"),
            "format": "mailchimp",
            "source": "mailchimp",
            "dry_run": "no",
        },
    )

    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    assert not ImportRun.objects.exists()


def test_an_unknown_format_is_a_form_error(officer_client):
    response = upload(officer_client, fmt="hubspot")

    assert response.status_code == 400
    assert response.context["form"].errors["format"]
    assert not ImportRun.objects.exists()


def test_an_agent_is_refused(agent_client):
    assert upload(agent_client).status_code == 403
    assert not ImportRun.objects.exists()


def test_an_unauthenticated_caller_is_sent_to_sign_in(client):
    response = upload(client)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))
    assert not ImportRun.objects.exists()
