"""
One CSV export in a fresh interpreter, printing how far it raised the
process's resident memory (JSON). The benchmark's own process has seeded a
million rows and freed the memory, which an export then reuses without
growing: only a fresh process shows what an export needs.
"""

import json
import os

from harness import setup_django

setup_django(os.environ["DATABASE_URL"])

import workspace  # noqa: E402

client = workspace._staff_client()
workspace._get(client, "/admin/feedback/submission/")
before = workspace._kib("VmRSS")
size = workspace._export_portal()
print(json.dumps({"before_kib": before, "peak_kib": workspace._kib("VmHWM"), "bytes": size}))
