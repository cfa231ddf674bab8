"""
Settings for load runs on this machine: the benchmark (`make bench`) and the
fault suite (`make faults`). The portal's production settings, with three
changes for load clients, all of which come from one address:

- the ceiling views (bench/ceilings.py) are routed beside the portal's own;
- the per-address submission limit is lifted (its counter still runs);
- the minimum fill time is zero: a load client sends as soon as it has the form.

Everything else, the submission view included, runs as in production. These
settings serve loopback addresses, or `qipp.test` (a reserved name no public
DNS answers, used by the fault suite's hosts on their private network), and
refuse any other host; the
production settings module has no way to route the ceiling views, and refuses
a minimum fill time under a second.
"""

from django.core.exceptions import ImproperlyConfigured

from qipp_portal.settings import *  # noqa: F403
from qipp_portal.settings import ALLOWED_HOSTS

LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
PRIVATE_TEST_NAME = "qipp.test"
if not ALLOWED_HOSTS or set(ALLOWED_HOSTS) - LOOPBACK - {PRIVATE_TEST_NAME}:
    raise ImproperlyConfigured("bench.settings serve loopback only: set ALLOWED_HOSTS=127.0.0.1.")

ROOT_URLCONF = "bench.urls"
QIPP_MIN_FILL_SECONDS = 0
QIPP_SUBMIT_RATE = "1000000/s"
