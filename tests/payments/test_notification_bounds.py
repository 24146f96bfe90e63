"""The notification receiver refuses an oversized body unread, with `fail`, never a 500."""

import pytest
from django.test import Client

from payments.notifications import MAX_NOTIFICATION_BYTES

URL = "/payments/alipay/notify/"
FORM = "application/x-www-form-urlencoded"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "notify_id=" + "x" * (MAX_NOTIFICATION_BYTES + 1),  # over the notification cap
        "notify_id=" + "x" * 3_000_000,  # over Django's own upload limit too
    ],
)
def test_an_oversized_notification_is_refused_unread(body):
    response = Client(raise_request_exception=False).post(URL, data=body, content_type=FORM)
    assert (response.status_code, response.content) == (413, b"fail")
