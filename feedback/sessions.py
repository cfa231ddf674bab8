"""
Sessions kept in the database, as Django keeps them, with the two queries a
respondent's journey makes most written directly: reading the session on
every page, and deleting it when their views are sent.

Django's own store reads through the ORM (building the query takes longer
than PostgreSQL takes to run it) and deletes by reading the row first, then
deleting it through the ORM's collector: two round trips where one will do.
Everything else (creating, saving, expiry, the table) is Django's.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict:
        model = self.model
        with connections[router.db_for_read(model)].cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {model._meta.db_table} WHERE session_key = %s AND expire_date > %s",  # noqa: S608
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])

    def delete(self, session_key: str | None = None) -> None:
        session_key = session_key or self.session_key
        if session_key is None:
            return
        model = self.model
        with connections[router.db_for_write(model)].cursor() as cursor:
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE session_key = %s", [session_key])  # noqa: S608
