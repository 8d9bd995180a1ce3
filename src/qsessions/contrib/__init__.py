"""Integrations with API frameworks: ``qsessions.contrib.rest_framework`` and ``qsessions.contrib.ninja``."""
