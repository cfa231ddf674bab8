"""The bare project's Celery app, configured from its settings as the portal's is."""

import os

from celery import Celery

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.bare.settings"
app = Celery("bare")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task
def ping() -> str:
    return "pong"
