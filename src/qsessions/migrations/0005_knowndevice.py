# Known devices (qsessions.known_devices): browsers recognised by the digest of their device cookie.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("qsessions", "0004_session_last_activity_client_hints"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="KnownDevice",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token_digest", models.CharField(editable=False, max_length=64, verbose_name="token digest")),
                ("user_agent", models.CharField(blank=True, max_length=300, null=True, verbose_name="user agent")),
                ("ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="IP")),
                ("created_at", models.DateTimeField(verbose_name="first sign-in")),
                ("last_sign_in_at", models.DateTimeField(verbose_name="last sign-in")),
                ("forgotten_at", models.DateTimeField(blank=True, null=True, verbose_name="forgotten at")),
                ("alert_nonce", models.CharField(blank=True, default="", editable=False, max_length=32)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL, verbose_name="user"
                    ),
                ),
            ],
            options={
                "verbose_name": "known device",
                "verbose_name_plural": "known devices",
                "constraints": [
                    models.UniqueConstraint(fields=("user", "token_digest"), name="qsessions_known_device_once")
                ],
            },
        ),
    ]
