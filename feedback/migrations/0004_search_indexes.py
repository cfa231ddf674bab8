"""
Trigram indexes so the admin's search over views' text and organisations
stays fast on a million rows. Django's `icontains` on PostgreSQL compares
UPPER(column::text) LIKE UPPER('%term%'), so the indexes are on that same
expression. PostgreSQL only: on SQLite this migration does nothing.
"""

from django.db import migrations

from ._postgresql import only_on_postgresql

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS view_text_trgm ON feedback_view USING gin (UPPER(text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS submission_organisation_trgm "
    "ON feedback_submission USING gin (UPPER(organisation::text) gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS view_text_trgm",
    "DROP INDEX IF EXISTS submission_organisation_trgm",
]


class Migration(migrations.Migration):
    dependencies = [("feedback", "0003_groups")]

    operations = [only_on_postgresql(CREATE, DROP)]
