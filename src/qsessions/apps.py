from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QSessionsConfig(AppConfig):
    name = "qsessions"
    label = "qsessions"
    verbose_name = _("Sessions")
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from qsessions import checks, receivers  # noqa: F401  (registration on import)
