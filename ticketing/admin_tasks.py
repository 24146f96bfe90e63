"""django-q2's task records in the admin, read-only.

django-q2 registers finished tasks (successful and failed) and the ORM broker's queue with every
field read-only but the change permission left on, so their pages offer SAVE buttons that save
nothing (or, for a queued task, rewrite the broker's lock under a running cluster). Here they are
view-only: the page shows a Close button. Deleting a record and resubmitting a task stay.
"""

from __future__ import annotations

from django.contrib import admin
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Success


class ViewOnly:
    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SuccessAdmin(ViewOnly, q_admin.TaskAdmin):
    pass


class FailureAdmin(ViewOnly, q_admin.FailAdmin):
    pass


class QueuedTaskAdmin(ViewOnly, q_admin.QueueAdmin):
    pass


for model, model_admin in (
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueuedTaskAdmin),
):
    # django_q comes before ticketing in INSTALLED_APPS, so its registrations are already made
    # (the queue's only with the ORM broker).
    if admin.site.is_registered(model):
        admin.site.unregister(model)
        admin.site.register(model, model_admin)
