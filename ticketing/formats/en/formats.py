"""English formats: Django's, with times on the 24-hour clock that timed-entry slots are sold in.

Django's English TIME_FORMAT ("P": "9:30 a.m.") would print a slot one way in English and
another ("09:30") in Chinese; gates and counters read both.
"""

from django.conf.locale.en.formats import *  # noqa: F403

TIME_FORMAT = "H:i"
