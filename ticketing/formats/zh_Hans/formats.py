"""Simplified Chinese formats: Django's own (already on the 24-hour clock)."""

from django.conf.locale.zh_Hans.formats import *  # noqa: F403
