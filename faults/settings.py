"""
Settings for the fault suite: the load-run settings (bench/settings.py: the
production settings, loopback only, rate limit lifted, no minimum fill time)
with the intervals shortened so that a scenario takes minutes, not hours.

Nothing here can be switched on from the production settings module: the
portal only runs with these when DJANGO_SETTINGS_MODULE names this module.
"""

import os
from datetime import timedelta

from celery.schedules import schedule

from bench.settings import *  # noqa: F403
from bench.settings import CELERY_BEAT_SCHEDULE, CELERY_BROKER_TRANSPORT_OPTIONS, STORAGES

# Seconds between the sweeper's runs (production: two minutes).
SWEEP_SECONDS = int(os.environ.get("FAULTS_SWEEP_SECONDS", "10"))
# Seconds between beat's weekly email runs (production: ten minutes).
WEEKLY_SECONDS = int(os.environ.get("FAULTS_WEEKLY_SECONDS", "5"))
# Seconds between beat's digest runs (production: hourly).
COMPILE_SECONDS = int(os.environ.get("FAULTS_COMPILE_SECONDS", "20"))
# Seconds before Redis hands a task that was never acknowledged to another
# worker (production: an hour).
VISIBILITY_TIMEOUT_SECONDS = int(os.environ.get("FAULTS_VISIBILITY_TIMEOUT_SECONDS", "10"))

CELERY_BEAT_SCHEDULE = {name: dict(entry) for name, entry in CELERY_BEAT_SCHEDULE.items()}
CELERY_BEAT_SCHEDULE["send-waiting-emails"]["schedule"] = schedule(timedelta(seconds=SWEEP_SECONDS))
CELERY_BEAT_SCHEDULE["send-weekly-emails"]["schedule"] = schedule(timedelta(seconds=WEEKLY_SECONDS))
CELERY_BEAT_SCHEDULE["compile-last-weeks-digest"]["schedule"] = schedule(timedelta(seconds=COMPILE_SECONDS))

CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}


# Static files are served from the finders: collectstatic is a deployment step.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
