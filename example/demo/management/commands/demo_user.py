from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

USERNAME = "demo"
PASSWORD = "demo-password"  # noqa: S105  (a local demo)


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser and print its credentials and the demo's addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="the port the demo is served on (8000)")

    def handle(self, *args: Any, **options: Any) -> None:
        site = f"http://127.0.0.1:{options['port']}"
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username=USERNAME, defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(PASSWORD)
        user.save()
        self.stdout.write(f"Demo user: {USERNAME}  password: {PASSWORD}")
        self.stdout.write(f"Open {site}/ (admin: {site}/admin/)")
        self.stdout.write(f"Your sessions: {site}/account/sessions/")
