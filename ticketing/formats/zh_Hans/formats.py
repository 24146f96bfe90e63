"""Simplified Chinese formats: Django's own (already on the 24-hour clock), with a datetime read to
the second and named by its zone, as in English (see ticketing/formats/en/formats.py)."""

from django.conf.locale.zh_Hans.formats import *  # noqa: F403

DATETIME_FORMAT = "Y年n月j日 H:i:s T"
