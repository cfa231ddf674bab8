"""
The portal's Celery worker with every digest compile slowed down by
FAULTS_COMPILE_DELAY_SECONDS, so that a scenario can kill a worker in the
middle of one. The delay is patched in here, in the fault suite's own entry
point: nothing in the portal can slow a compile down.

    python -m faults.worker worker --loglevel=INFO --concurrency=2
"""

import os
import sys
import time


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faults.settings")
    django.setup()
    from feedback import digests
    from qipp_portal.celery import app

    delay = float(os.environ["FAULTS_COMPILE_DELAY_SECONDS"])
    build = digests.build_content

    def slowly(digest):
        # Inside the compile's transaction, holding its claim and lock.
        time.sleep(delay)
        return build(digest)

    digests.build_content = slowly
    app.worker_main(sys.argv[1:])


if __name__ == "__main__":
    main()
