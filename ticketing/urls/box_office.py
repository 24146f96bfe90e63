"""The box office's pages (counter sales, shifts, slips, Z reports and order look-up), mounted at
/box-office/ by ticketing.urls."""

from django.urls import path

from ticketing.views import box_office, counter

app_name = "box_office"

urlpatterns = [
    path("", box_office.sell, name="sell"),
    path("login/", box_office.login, name="login"),
    path("sales/<str:code>/pay/", box_office.pay, name="pay"),
    path("sales/<str:code>/cash/", box_office.pay_cash, name="pay_cash"),
    path("sales/<str:code>/status/", box_office.status, name="status"),
    path("sales/<str:code>/cancel/", box_office.cancel_sale, name="cancel"),
    path("sales/<str:code>/cancelled/", box_office.cancelled, name="cancelled"),
    path("sales/<str:code>/receipt/", box_office.receipt, name="receipt"),
    path("sales/<str:code>/tickets.pdf", box_office.tickets_pdf, name="tickets_pdf"),
    path("sales/<str:code>/slip/", counter.sale_slip, name="sale_slip"),
    path("sales/<str:code>/cancel-slip/", counter.cancel_slip, name="cancel_slip"),
    path("orders/", box_office.find, name="find"),
    path("orders/<str:code>/", box_office.order_detail, name="order"),
    path("orders/<str:code>/refund-slip/", counter.refund_slip, name="refund_slip"),
    path("shift/open/", counter.shift_open, name="shift_open"),
    path("shift/close/", counter.shift_close, name="shift_close"),
    path("shifts/", counter.shift_list, name="shifts"),
    path("shifts/<int:shift_id>/z/", counter.shift_z, name="shift_z"),
    path("tills/<int:till_id>/<str:day>/z/", counter.day_z, name="day_z"),
]
