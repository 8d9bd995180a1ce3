# Only the indexes a query of qsessions uses (docs/architecture.md, "The table and its indexes"). A session
# write that is not a HOT update maintains every index of the table, so each index costs every write.
#
# Dropped:
# - the index of the owner column alone: (user, expire_date) starts with it and serves every query by
#   owner, the foreign key's cascade included. On MySQL, InnoDB keeps the index it made for the foreign key.
# - on PostgreSQL, the `varchar_pattern_ops` ("_like") indexes Django adds beside the primary key's and
#   public_id's unique index: they serve LIKE / startswith queries, which qsessions never makes (the admin
#   refuses them on keys). Equality lookups use the unique indexes.
#
# Indexes are found by their columns, not their names (django-qsessions 2.x created some of them), and
# dropped with DROP INDEX only: no table rebuild, no foreign key checked again on a large table.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "qsessions_session"


def _unused_indexes(schema_editor):
    """The names of the indexes this migration drops, as the database has them."""
    connection = schema_editor.connection
    if connection.vendor == "mysql":
        return []
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    names = []
    for name, info in constraints.items():
        if not info["index"] or info["unique"] or info["primary_key"] or info["foreign_key"]:
            continue
        pattern_index = name.endswith("_like") and info["columns"] in (["session_key"], ["public_id"])
        if info["columns"] == ["user_id"] or (connection.vendor == "postgresql" and pattern_index):
            names.append(name)
    return names


def drop_unused_indexes(apps, schema_editor):
    for name in _unused_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def restore_indexes(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "mysql":
        return
    indexes = [("user_id", "")]
    if vendor == "postgresql":
        indexes += [("session_key", " varchar_pattern_ops"), ("public_id", " varchar_pattern_ops")]
    for column, ops in indexes:
        name = schema_editor.quote_name(f"{TABLE}_{column}{'_like' if ops else ''}")
        schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} ({column}{ops})")


class Migration(migrations.Migration):
    dependencies = [
        ("qsessions", "0006_endedsession_session_impersonator"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="session",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_unused_indexes, restore_indexes, elidable=True)],
        ),
    ]
