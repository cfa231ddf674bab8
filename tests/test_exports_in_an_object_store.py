"""
On several hosts a worker writes an export and any web host serves it, so the
files go to an S3-compatible object store every host reaches. moto's server
mode, on loopback, stands in for the real store: the portal talks to it over
HTTP with boto3, as it would to the real one.
"""

import os
import subprocess
import sys

import boto3
import pytest
import time_machine
from moto.server import ThreadedMotoServer

from feedback import background_exports
from feedback.models import Export, ExportStatus, View

from .test_background_exports import LEAD, ask, cells, download, signed_in_again, varied_submissions

pytestmark = pytest.mark.django_db

BUCKET = "qipp-exports-test"
REGION = "eu-west-2"


@pytest.fixture(scope="module")
def object_store():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(object_store, settings, monkeypatch):
    """An empty bucket, and the exports storage pointed at it as EXPORTS_S3_BUCKET would."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "portal")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    s3 = boto3.client("s3", endpoint_url=object_store, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": object_store, "region_name": REGION},
        },
    }
    yield s3
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    from feedback import exports

    monkeypatch.setattr(exports, "IMMEDIATE_ROWS", 3)


@pytest.fixture
def lead(client, make_staff):
    make_staff(LEAD, client=client, email="lead@example.nhs.uk")
    return client


def keys(s3) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_naming_a_bucket_sends_exports_to_the_object_store_and_nothing_else():
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "EXPORTS_S3_BUCKET": "qipp-exports",
        "EXPORTS_S3_ENDPOINT_URL": "https://objects.example.nhs.uk",
        "EXPORTS_S3_REGION": REGION,
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'qipp_portal.settings'\n"
            "from django.conf import settings\n"
            "print(settings.STORAGES['exports']['BACKEND'], settings.STORAGES['exports']['OPTIONS']['bucket_name'],"
            " settings.STORAGES['exports']['OPTIONS']['endpoint_url'], settings.STORAGES['default']['BACKEND'])",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [
        "storages.backends.s3.S3Storage",
        "qipp-exports",
        "https://objects.example.nhs.uk",
        "django.core.files.storage.FileSystemStorage",
    ]


def test_a_large_export_is_kept_in_the_object_store_and_downloads_from_it(
    bucket, lead, django_capture_on_commit_callbacks
):
    varied_submissions()

    export_id = ask(lead, "/admin/feedback/submission/export/csv/", django_capture_on_commit_callbacks)

    assert Export.objects.get(pk=export_id).status == ExportStatus.READY
    assert keys(bucket) == [f"{export_id}.csv"]
    stored = bucket.get_object(Bucket=BUCKET, Key=f"{export_id}.csv")["Body"].read()
    assert download(lead, export_id) == stored
    assert len(cells(stored)) == View.objects.count() + 1


def test_an_export_in_the_object_store_is_deleted_after_24_hours(bucket, lead, django_capture_on_commit_callbacks):
    varied_submissions()
    with time_machine.travel("2026-12-01 10:00 +0000", tick=False):
        export_id = ask(lead, "/admin/feedback/submission/export/xlsx/", django_capture_on_commit_callbacks)
    assert keys(bucket) == [f"{export_id}.xlsx"]

    with time_machine.travel("2026-12-02 10:05 +0000", tick=False):
        assert background_exports.sweep()["expired"] == 1
        signed_in_again(lead)
        assert lead.get(f"/admin/feedback/submission/exports/{export_id}/download/").status_code == 404

    assert keys(bucket) == []
