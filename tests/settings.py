"""
The portal's own settings module with the environment a test run needs.

Tests run with DJANGO_DEBUG off, as in production; only what cannot come from
the environment is overridden here.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SITE_URL", "https://qipp.example.nhs.uk")
# The suite also runs on the one-machine defaults (SQLite, the filesystem
# broker, the in-process cache), which production settings refuse unless told.
os.environ.setdefault("QIPP_SINGLE_HOST", "1")
# Keep the test run's filesystem broker apart from a portal running beside it.
os.environ.setdefault("QIPP_VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "tests"))

from qipp_portal.settings import *  # noqa: E402,F403

# Collected, hashed static files are a deployment step, not a test prerequisite.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run in the test process when enqueued; tests that need a real broker
# or worker say so.
CELERY_TASK_ALWAYS_EAGER = True
