"""What the migrations run on PostgreSQL only (the loader skips modules whose names start with "_")."""

from django.db import migrations


def only_on_postgresql(create: list[str], drop: list[str]) -> migrations.RunPython:
    """Run `create` forwards and `drop` backwards on PostgreSQL; nothing elsewhere."""

    def run(statements):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor != "postgresql":
                return
            for statement in statements:
                schema_editor.execute(statement)

        return apply

    return migrations.RunPython(run(create), run(drop))
