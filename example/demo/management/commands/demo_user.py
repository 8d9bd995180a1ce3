from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "demo"
PASSWORD = "demo-password"  # noqa: S105  (a local demo)


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser and print its credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username=USERNAME, defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(PASSWORD)
        user.save()
        self.stdout.write(f"Demo user: {USERNAME}  password: {PASSWORD}")
        self.stdout.write("Open http://127.0.0.1:8000/ (admin: http://127.0.0.1:8000/admin/)")
        self.stdout.write("Your sessions: http://127.0.0.1:8000/account/sessions/")
