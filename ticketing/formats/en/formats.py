"""English formats: Django's, with times on the 24-hour clock that timed-entry slots are sold in.

Django's English TIME_FORMAT ("P": "9:30 a.m.") would print a slot one way in English and
another ("09:30") in Chinese; gates and counters read both.

DATETIME_FORMAT is what a datetime prints as when nothing formats it on purpose: the admin's
lists and pages. There an instant is read to the second (four gateway exchanges of one payment
in the same minute must not all read "5:03") and says which zone it is in ("T": UTC, CST), since
the admin shows the site's zone unless a page is an attraction's (ticketing/admin.py).
"""

from django.conf.locale.en.formats import *  # noqa: F403

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "N j, Y, H:i:s T"
