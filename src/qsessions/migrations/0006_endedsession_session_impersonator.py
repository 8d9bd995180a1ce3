# The history of ended sessions (EndedSession: why and when each signed-in session ended), and the
# impersonator of a session (django-hijack).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("qsessions", "0005_knowndevice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="impersonator",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="impersonator",
            ),
        ),
        migrations.CreateModel(
            name="EndedSession",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("public_id", models.CharField(db_index=True, editable=False, max_length=32, verbose_name="public id")),
                ("reason", models.CharField(max_length=32, verbose_name="reason")),
                ("user_agent", models.CharField(blank=True, max_length=300, null=True, verbose_name="user agent")),
                ("ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="IP")),
                ("client_hints", models.JSONField(blank=True, null=True, verbose_name="client hints")),
                ("created_at", models.DateTimeField(blank=True, null=True, verbose_name="signed in")),
                ("last_activity", models.DateTimeField(blank=True, null=True, verbose_name="last activity")),
                ("ended_at", models.DateTimeField(verbose_name="ended at")),
                ("told", models.BooleanField(default=False, verbose_name="told")),
                (
                    "impersonator",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="impersonator",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ended_sessions",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "ended session",
                "verbose_name_plural": "ended sessions",
                "indexes": [models.Index(fields=["user", "ended_at"], name="qsessions_ended_user_idx")],
            },
        ),
    ]
