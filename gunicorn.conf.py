"""
Gunicorn for the portal's web processes: `gunicorn -c gunicorn.conf.py qipp_portal.wsgi`.
Used by production (docs/deployment.md), `make run` (Procfile.dev) and the
benchmark. Each value can be changed from the environment (GUNICORN_*);
options on the command line win over both.
"""

import os

# Behind the TLS proxy, on the host's own address (never 0.0.0.0 by default).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Synchronous workers: every page is a few milliseconds of Python and SQL, and
# long work (an export of more than exports.IMMEDIATE_ROWS rows) goes to the
# Celery worker, so a request never waits long behind another.
worker_class = "sync"
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
# The longest request is an immediate export or a digest's PDF: a minute is
# ample, and a worker stuck longer is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
# On SIGTERM (a deploy, a scale-down) each worker finishes what it is serving first.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5
# Workers are replaced after a while, at different moments, so memory never creeps.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = 500
# Request limits before Django sees anything (Django caps bodies: DATA_UPLOAD_MAX_MEMORY_SIZE).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# The proxy's address, whose X-Forwarded-* headers gunicorn believes.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# No access log by default: its request lines would carry query strings (searches,
# filters on personal details) and the tokens in respondents' links. The portal
# logs each request itself, by view name, with its request id (feedback.metrics).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"


def on_starting(server):
    """A fresh start: the request counts of workers from before are not this run's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """With PROMETHEUS_MULTIPROC_DIR set, a worker that exits stops counting in /metrics' figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
