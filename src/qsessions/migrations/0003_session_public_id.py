# qsessions' own additions on top of django-qsessions 2.x's schema: the opaque public id (filled in for
# existing sessions), an index for "this user's active sessions", and verbose names.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BATCH_SIZE = 2_000


def fill_public_ids(apps, schema_editor):
    from qsessions.models import make_public_id

    Session = apps.get_model("qsessions", "Session")
    manager = Session._base_manager.using(schema_editor.connection.alias)
    while True:
        keys = list(manager.filter(public_id__isnull=True).values_list("pk", flat=True)[:BATCH_SIZE])
        if not keys:
            return
        manager.bulk_update(
            [Session(session_key=key, public_id=make_public_id(key)) for key in keys], ["public_id"], batch_size=500
        )


class Migration(migrations.Migration):
    dependencies = [
        ("qsessions", "0002_session_created_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="public_id",
            field=models.CharField(editable=False, max_length=32, null=True, verbose_name="public id"),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="session",
            name="public_id",
            field=models.CharField(editable=False, max_length=32, null=True, unique=True, verbose_name="public id"),
        ),
        migrations.AlterField(
            model_name="session", name="created_at", field=models.DateTimeField(null=True, verbose_name="created at")
        ),
        migrations.AlterField(
            model_name="session",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, verbose_name="updated at"),
        ),
        migrations.AlterField(
            model_name="session",
            name="user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                to=settings.AUTH_USER_MODEL,
                verbose_name="user",
            ),
        ),
        migrations.AlterField(
            model_name="session",
            name="user_agent",
            field=models.CharField(blank=True, max_length=300, null=True, verbose_name="user agent"),
        ),
        migrations.AddIndex(
            model_name="session",
            index=models.Index(fields=["user", "expire_date"], name="qsessions_user_expiry_idx"),
        ),
    ]
