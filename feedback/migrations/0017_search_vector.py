"""
Full-text search over views: a tsvector column the database keeps from the
text (PostgreSQL's English configuration) with a GIN index. It replaces the
trigram index on views' text; organisation names keep theirs. On SQLite the
column stays empty and nothing is indexed.
"""

import django.contrib.postgres.search
from django.db import migrations, models

import feedback.models.submissions

from ._postgresql import only_on_postgresql

CREATE = [
    "CREATE INDEX IF NOT EXISTS view_search_vector ON feedback_view USING gin (search_vector)",
    "DROP INDEX IF EXISTS view_text_trgm",
]
DROP = [
    "DROP INDEX IF EXISTS view_search_vector",
    "CREATE INDEX IF NOT EXISTS view_text_trgm ON feedback_view USING gin (UPPER(text) gin_trgm_ops)",
]


class Migration(migrations.Migration):
    dependencies = [("feedback", "0016_second_opinions")]

    operations = [
        migrations.AddField(
            model_name="view",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=feedback.models.submissions.EnglishWords("text"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        only_on_postgresql(CREATE, DROP),
    ]
