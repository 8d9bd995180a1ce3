"""``manage.py clearsessions``: delete expired sessions, in batches, from the database and the cache (their
owners' history records them as expired), and the history past QSESSIONS_HISTORY_RETENTION.

Django's own command lives in django.contrib.sessions, which a qsessions site does not install.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Delete expired sessions (run it daily, e.g. from cron)."

    def handle(self, **options: Any) -> None:
        store_class = import_module(settings.SESSION_ENGINE).SessionStore
        delete_expired = getattr(store_class, "delete_expired", None)  # ours counts what it deletes
        try:
            deleted = delete_expired() if delete_expired else store_class.clear_expired()
        except NotImplementedError:
            raise CommandError(
                f"Session engine '{settings.SESSION_ENGINE}' doesn't support clearing expired sessions."
            ) from None
        if isinstance(deleted, int) and options["verbosity"] >= 2:
            self.stdout.write(f"Deleted {deleted} expired session(s).")
        from qsessions.models import EndedSession

        forgotten = EndedSession.objects.past_retention().delete()[0]
        if options["verbosity"] >= 2:
            self.stdout.write(f"Deleted {forgotten} ended-session record(s) past QSESSIONS_HISTORY_RETENTION.")
