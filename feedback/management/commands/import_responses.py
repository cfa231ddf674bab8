"""manage.py import_responses FILE.csv|FILE.xlsx [--dry-run]: responses gathered elsewhere, checked, saved once."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from feedback.imports import ImportRefused, import_responses
from feedback.models import AuditAction, AuditEvent


class Command(BaseCommand):
    help = (
        "Import responses from a CSV or XLSX file: one row per view, rows sharing a 'response id' make one "
        "submission. If any row is wrong, every wrong row is listed and nothing is saved."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check every row and save nothing.")

    def handle(self, *args, file: Path, dry_run: bool, **options):
        try:
            result = import_responses(file.name, file.read_bytes(), dry_run=dry_run)
        except (OSError, ImportRefused) as error:
            raise CommandError(str(error)) from error
        for line, problem in result.errors:
            self.stderr.write(f"Line {line}: {problem}")
        if result.errors:
            raise CommandError(f"{len(result.errors)} row(s) are wrong: nothing was saved.")
        counts = f"{result.responses:,} response(s) with {result.views:,} view(s)"
        skipped = f"; {result.already_imported:,} imported before, skipped" if result.already_imported else ""
        if dry_run:
            self.stdout.write(f"Every row is right. Would import {counts}{skipped}. Nothing was saved (--dry-run).")
            return
        AuditEvent.objects.record(
            AuditAction.RESPONSES_IMPORTED,
            file=file.name,
            responses=result.responses,
            views=result.views,
            skipped=result.already_imported,
        )
        self.stdout.write(self.style.SUCCESS(f"Imported {counts}{skipped}."))
