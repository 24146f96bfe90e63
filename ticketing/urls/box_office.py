"""The box office's pages (counter sales and order look-up), mounted at /box-office/ by
ticketing.urls."""

from django.urls import path

from ticketing.views import box_office

app_name = "box_office"

urlpatterns = [
    path("", box_office.sell, name="sell"),
    path("login/", box_office.login, name="login"),
    path("sales/<str:code>/pay/", box_office.pay, name="pay"),
    path("sales/<str:code>/status/", box_office.status, name="status"),
    path("sales/<str:code>/cancel/", box_office.cancel_sale, name="cancel"),
    path("sales/<str:code>/receipt/", box_office.receipt, name="receipt"),
    path("sales/<str:code>/tickets.pdf", box_office.tickets_pdf, name="tickets_pdf"),
    path("orders/", box_office.find, name="find"),
    path("orders/<str:code>/", box_office.order_detail, name="order"),
]
