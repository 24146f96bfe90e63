"""The sales report page and its downloads, served inside the admin.

GET only: the filters are query parameters, so a report is a link that can be shared. A bad
parameter answers 400 with the form's messages on the page (or as text for a download).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .charts import trend_chart, utilisation_heatmap
from .exports import to_csv, to_xlsx
from .filters import Channel, ReportForm, ReportQuery
from .queries import sales_report

PERMISSION = "ticketing.view_sales_report"
FORMATS = ("html", "csv", "xlsx")


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@require_GET
def sales_report_view(request: HttpRequest, admin_site, model_admin) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    output = request.GET.get("format", "html")
    if output not in FORMATS:
        return _bad_request(_("Unknown format: choose html, csv or xlsx."))
    # Bound even when empty: every field is optional and the form fills in the last 30 days.
    form = ReportForm(request.GET)
    if not form.is_valid():
        if output != "html":
            messages = "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
            )
            return _bad_request(messages)
        context = {
            **admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": _("Sales report"),
            "form": form,
            "report": None,
        }
        return TemplateResponse(request, "admin/reports/sales.html", context, status=400)

    query = ReportQuery.from_form(form)
    report = sales_report(query)
    if output != "html":
        name = request.GET.get("table", "period")
        table = report.tables.get(name)
        if table is None:
            return _bad_request(
                _("Unknown table: choose one of %(names)s.") % {"names": ", ".join(report.tables)}
            )
        filename = f"sales-{name}-{query.start.isoformat()}-{query.end.isoformat()}.{output}"
        if output == "csv":
            response = HttpResponse(to_csv(table), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(
                to_xlsx(table),
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    params = request.GET.copy()
    params.pop("format", None)
    params.pop("table", None)
    channel_names = dict(Channel.CHOICES)
    context = {
        **admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Sales report"),
        "form": form,
        "report": report,
        "query": query,
        "channel_name": channel_names.get(query.channel, ""),
        "site_zone": settings.TIME_ZONE,
        "tables": [
            report.tables[name]
            for name in ("period", "attraction", "ticket_type", "channel", "currency")
        ],
        "utilisation_table": report.tables["utilisation"],
        "trend_table": report.tables["trend"],
        "trend_charts": [
            (currency, trend_chart(f"trend-{currency.lower()}", currency, days))
            for currency, days in report.trend.items()
        ],
        "heatmap": utilisation_heatmap("utilisation", query.start, query.end, report.utilisation),
        "base_params": params.urlencode(),
    }
    return TemplateResponse(request, "admin/reports/sales.html", context)
