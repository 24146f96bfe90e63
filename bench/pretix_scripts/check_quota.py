"""Inside pretix: what one slot's race left behind: orders holding its quota, and its quota's own
count (a quota that says more is left than its size less what is held would oversell)."""

import json
import sys

import django

django.setup()

from django_scopes import scopes_disabled  # noqa: E402
from pretix.base.models import OrderPosition, Quota  # noqa: E402

with scopes_disabled():
    quota = Quota.objects.get(pk=int(sys.argv[1]))
    held = OrderPosition.objects.filter(
        subevent_id=quota.subevent_id, order__status__in=["n", "p"], canceled=False
    ).count()
    state, left = quota.availability()
    print(json.dumps({"held": held, "size": quota.size, "left": left, "state": state}))
