# Columns for last activity (written at most once per QSESSIONS_ACTIVITY_INTERVAL) and client hints.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("qsessions", "0003_session_public_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="client_hints",
            field=models.JSONField(blank=True, null=True, verbose_name="client hints"),
        ),
        migrations.AddField(
            model_name="session",
            name="last_activity",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last activity"),
        ),
    ]
