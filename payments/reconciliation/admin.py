"""Reconciliation in the admin: upload a day's files, read the reports, act on differences.

Files, lines, runs and differences are read-only: they change only through an import or an
action in actions.py. Each page and action needs its own permission (the Meta of
ReconciliationFile and Difference); viewing grants none of them, and an action a user may not
run is neither offered nor accepted.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from payments import clock
from payments.alipay.beijing import BEIJING
from payments.exceptions import PaymentError

from . import actions, chart, report, runs, sources
from .forms import DayForm, NoteForm, RangeForm, UploadForm
from .models import (
    DaySummary,
    Difference,
    DifferenceEvent,
    FileLine,
    ReconciliationFile,
    ReconciliationRun,
)

REPORT_PERMISSION = "reconciliation.view_reconciliation_report"
IMPORT_PERMISSION = "reconciliation.import_reconciliation_file"


class ReadOnly(admin.ModelAdmin):
    """Rows only an import or an action writes: the change form would save them back as read."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _admin_link(obj, label=None) -> str:
    if obj is None:
        return "-"
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def _csv_response(filename: str, header: list[str], rows: list[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _beijing_yesterday() -> date:
    return clock.now().astimezone(BEIJING).date() - timedelta(days=1)


@admin.register(ReconciliationFile)
class ReconciliationFileAdmin(ReadOnly):
    list_display = (
        "day",
        "kind",
        "partner",
        "name",
        "source",
        "line_count",
        "imported_at",
        "imported_by",
        "is_current",
    )
    list_filter = ("kind", "source", "day")
    search_fields = ("name", "=content_hash")
    date_hierarchy = "day"

    @admin.display(boolean=True, description=gettext_lazy("current"))
    def is_current(self, obj: ReconciliationFile) -> bool:
        return obj.is_current

    def has_add_permission(self, request: HttpRequest) -> bool:
        # "Add" is the upload: files come in through the importer, never a model form.
        return request.user.has_perm(IMPORT_PERMISSION)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("report/", wrap(self.day_report_view), name="reconciliation_day_report"),
            path("range/", wrap(self.range_report_view), name="reconciliation_range_report"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **extra,
        }

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
        status = 200
        if request.method == "POST":
            if form.is_valid():
                done = runs.run(
                    sources.uploaded(form.files_given()),
                    trigger="upload",
                    actor=f"staff:{request.user.get_username()}",
                )
                for name, reason in done.refused:
                    form.add_error(
                        None,
                        _("%(name)s was refused, nothing of it was imported: %(reason)s")
                        % {"name": name, "reason": reason},
                    )
                for imported in done.imported:
                    if imported.created:
                        text = _("%(name)s imported: %(lines)d lines for %(day)s.")
                    else:
                        text = _("%(name)s was already imported (%(lines)d lines for %(day)s).")
                    self.message_user(
                        request,
                        text
                        % {
                            "name": imported.file.name,
                            "lines": imported.file.line_count,
                            "day": imported.file.day.isoformat(),
                        },
                        messages.SUCCESS,
                    )
                if not done.refused:
                    new = done.run.new_differences
                    self.message_user(
                        request,
                        ngettext("%d new difference found.", "%d new differences found.", new)
                        % new,
                        messages.WARNING if new else messages.SUCCESS,
                    )
                    days = sorted({i.file.day for i in done.imported})
                    target = reverse("admin:reconciliation_day_report")
                    if days:
                        target += f"?day={days[-1].isoformat()}"
                    return HttpResponseRedirect(target)
                status = 422
            else:
                status = 400
        context = self._context(request, _("Upload Alipay's files"), form=form)
        return TemplateResponse(request, "admin/reconciliation/upload.html", context, status=status)

    def day_report_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(REPORT_PERMISSION):
            raise PermissionDenied
        params = request.GET.copy()
        if not params.get("day"):
            latest = DaySummary.objects.order_by("-day").values_list("day", flat=True).first()
            params["day"] = (latest or _beijing_yesterday()).isoformat()
        form = DayForm(params)
        if not form.is_valid():
            context = self._context(request, _("Reconciliation day report"), form=form)
            return TemplateResponse(
                request, "admin/reconciliation/day_report.html", context, status=400
            )
        day = form.cleaned_data["day"]
        day_report = report.day_report(day)
        if request.GET.get("format") == "csv":
            return self._day_csv(day_report)
        charts = [
            (currency, chart.svg(currency, series, ident=f"chart-{currency.lower()}"))
            for currency, series in report.daily_series(day, 30).items()
        ]
        open_kinds = [
            (Difference.Kind(kind).label, kind, n)
            for kind, n in sorted(day_report.open_by_kind.items())
        ]
        context = self._context(
            request,
            _("Reconciliation day report"),
            form=form,
            report=day_report,
            matched_percent=f"{day_report.matched_share:.2%}",
            columns=report.COLUMNS,
            rows=[
                [getattr(s, name) for name, _label in report.COLUMNS] for s in day_report.summaries
            ],
            open_kinds=open_kinds,
            charts=charts,
            previous_day=(day - timedelta(days=1)).isoformat(),
            next_day=(day + timedelta(days=1)).isoformat(),
            differences_url=reverse("admin:reconciliation_difference_changelist"),
        )
        return TemplateResponse(request, "admin/reconciliation/day_report.html", context)

    def _day_csv(self, day_report: report.DayReport) -> HttpResponse:
        header = [
            "day",
            *(name for name, _label in report.COLUMNS),
            "lines",
            "matched_lines",
            "matched_share",
            "open_differences",
        ]
        open_total = sum(day_report.open_by_kind.values())
        rows = [
            [
                day_report.day.isoformat(),
                *(getattr(s, name) for name, _label in report.COLUMNS),
                s.lines,
                s.matched_lines,
                f"{s.matched_share:.4f}",
                open_total,
            ]
            for s in day_report.summaries
        ]
        return _csv_response(f"reconciliation-{day_report.day.isoformat()}.csv", header, rows)

    def range_report_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(REPORT_PERMISSION):
            raise PermissionDenied
        params = request.GET.copy()
        end = _beijing_yesterday()
        params.setdefault("end", end.isoformat())
        params.setdefault("start", (end - timedelta(days=29)).isoformat())
        params.setdefault("period", "day")
        form = RangeForm(params)
        if not form.is_valid():
            context = self._context(request, _("Reconciliation over a range"), form=form)
            return TemplateResponse(
                request, "admin/reconciliation/range_report.html", context, status=400
            )
        start, end, period = (form.cleaned_data[k] for k in ("start", "end", "period"))
        rows = report.range_rows(start, end, period)
        names = ["period", *report.SUMMED]
        if request.GET.get("format") == "csv":
            table = [
                [row["period"].isoformat(), row["currency"], *(row[name] for name in report.SUMMED)]
                for row in rows
            ]
            return _csv_response(
                f"reconciliation-{period}-{start.isoformat()}-{end.isoformat()}.csv",
                ["period", "currency", *report.SUMMED],
                table,
            )
        context = self._context(
            request,
            _("Reconciliation over a range"),
            form=form,
            columns=report.COLUMNS,
            rows=[
                [
                    row["period"],
                    *(row[name] for name, _label in report.COLUMNS),
                    f"{row['matched_lines'] / row['lines']:.2%}" if row["lines"] else "-",
                ]
                for row in rows
            ],
            names=names,
        )
        return TemplateResponse(request, "admin/reconciliation/range_report.html", context)


@admin.register(FileLine)
class FileLineAdmin(ReadOnly):
    list_display = (
        "file",
        "line_no",
        "type",
        "partner_transaction_id",
        "amount",
        "fee",
        "currency",
        "paid_at",
    )
    list_filter = ("type", "currency")
    search_fields = ("partner_transaction_id", "transaction_id")
    list_select_related = ("file",)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnly):
    list_display = (
        "started_at",
        "finished_at",
        "trigger",
        "actor",
        "files_imported",
        "lines",
        "new_differences",
    )
    list_filter = ("trigger",)


class DifferenceEventInline(admin.TabularInline):
    model = DifferenceEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "actor", "note", "answer")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Difference)
class DifferenceAdmin(ReadOnly):
    list_display = (
        "day",
        "severity",
        "kind",
        "partner_transaction_id",
        "line_type",
        "currency",
        "amount_here",
        "amount_alipay",
        "is_open",
        "payment_link",
        "refund_link",
        "line_link",
        "detail",
    )
    list_filter = ("is_open", "kind", "severity", "day")
    date_hierarchy = "day"
    search_fields = ("partner_transaction_id",)
    list_select_related = ("payment", "refund", "line")
    inlines = (DifferenceEventInline,)
    actions = (
        "check_with_alipay",
        "refund_buyer",
        "issue_tickets",
        "resolve_with_note",
        "add_note",
    )

    @admin.display(description=gettext_lazy("payment"))
    def payment_link(self, obj: Difference) -> str:
        return _admin_link(obj.payment, obj.payment and obj.payment.partner_trans_id)

    @admin.display(description=gettext_lazy("refund"))
    def refund_link(self, obj: Difference) -> str:
        return _admin_link(obj.refund, obj.refund and obj.refund.partner_refund_id)

    @admin.display(description=gettext_lazy("file line"))
    def line_link(self, obj: Difference) -> str:
        if obj.line is None:
            return "-"
        return _admin_link(obj.line, _("line %(n)d") % {"n": obj.line.line_no})

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_check_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(actions.PERMISSIONS["check"])

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(actions.PERMISSIONS["refund"])

    def has_issue_tickets_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(actions.PERMISSIONS["issue_tickets"])

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(actions.PERMISSIONS["resolve"])

    def _each(self, request, queryset, call, done_message) -> None:
        done = 0
        for diff in queryset:
            try:
                call(diff)
                done += 1
            except PaymentError as exc:
                self.message_user(request, f"{diff}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)

    def _confirm(
        self, request, queryset, *, action, title, plans, note_required, note_label, perform
    ):
        """The intermediate page: what will happen to each difference, and the note; the
        action runs only when that page is posted back confirmed."""
        form = NoteForm(request.POST if request.POST.get("confirmed") == "yes" else None)
        form.fields["note"].label = note_label
        form.fields["note"].required = note_required
        if form.is_bound and form.is_valid():
            perform(form.cleaned_data["note"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "action": action,
            "plans": plans,
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/reconciliation/difference/confirm_action.html", context
        )

    @admin.action(description=gettext_lazy("Check with Alipay now"), permissions=["check"])
    def check_with_alipay(self, request, queryset: QuerySet[Difference]) -> None:
        def check(diff):
            answer = actions.check_with_alipay(diff, request.user)
            self.message_user(
                request,
                _("%(diff)s: Alipay answers %(status)s %(amount)s %(currency)s")
                % {
                    "diff": diff,
                    "status": answer.status or answer.code,
                    "amount": answer.amount,
                    "currency": answer.currency,
                },
                messages.INFO,
            )

        self._each(
            request,
            queryset,
            check,
            lambda n: ngettext("%d difference checked.", "%d differences checked.", n) % n,
        )

    def _refund_plan(self, diff: Difference) -> tuple[str, bool]:
        if diff.kind != Difference.Kind.MISSING_HERE or diff.line_type == "REFUND":
            return _("Not possible: only money Alipay took can be refunded here."), False
        if not diff.is_open:
            return _("Not possible: already resolved."), False
        if diff.payment is None:
            return (
                _(
                    "Alipay's trade %(trade)s (%(amount)s %(currency)s) is confirmed paid with "
                    "Alipay, recorded, and refunded to the buyer in full."
                )
                % {
                    "trade": diff.partner_transaction_id,
                    "amount": diff.amount_alipay,
                    "currency": diff.currency,
                },
                True,
            )
        return (
            _(
                "Payment %(trade)s is confirmed paid with Alipay, and %(amount)s %(currency)s "
                "go back to the buyer. No tickets are issued."
            )
            % {
                "trade": diff.payment.partner_trans_id,
                "amount": diff.payment.refundable_amount
                if diff.payment.state in diff.payment.REFUNDABLE_STATES
                else diff.payment.amount,
                "currency": diff.payment.currency,
            },
            True,
        )

    @admin.action(description=gettext_lazy("Refund the buyer"), permissions=["refund"])
    def refund_buyer(self, request, queryset: QuerySet[Difference]):
        plans = [(diff, *self._refund_plan(diff)) for diff in queryset]

        def perform(note):
            self._each(
                request,
                [diff for diff, _text, possible in plans if possible],
                lambda diff: actions.refund_buyer(diff, request.user, reason=note),
                lambda n: ngettext("%d refund requested.", "%d refunds requested.", n) % n,
            )

        return self._confirm(
            request,
            queryset,
            action="refund_buyer",
            title=_("Refund the buyer"),
            plans=plans,
            note_required=False,
            note_label=_("Reason (sent with the refund)"),
            perform=perform,
        )

    def _tickets_plan(self, diff: Difference) -> tuple[str, bool]:
        if diff.kind != Difference.Kind.MISSING_HERE or diff.line_type == "REFUND":
            return _("Not possible: only money Alipay took can be acted on here."), False
        if not diff.is_open:
            return _("Not possible: already resolved."), False
        if diff.payment is None or not diff.payment.reference:
            return _("Not possible: no order's payment at Entrada; refund the buyer."), False
        return (
            _(
                "Payment %(trade)s (%(amount)s %(currency)s) is confirmed paid with Alipay and "
                "becomes paid; order %(order)s gets its tickets, or the buyer is refunded if "
                "its places are gone."
            )
            % {
                "trade": diff.payment.partner_trans_id,
                "amount": diff.payment.amount,
                "currency": diff.payment.currency,
                "order": diff.payment.reference,
            },
            True,
        )

    @admin.action(
        description=gettext_lazy("Issue the order's tickets"), permissions=["issue_tickets"]
    )
    def issue_tickets(self, request, queryset: QuerySet[Difference]):
        plans = [(diff, *self._tickets_plan(diff)) for diff in queryset]

        def perform(_note):
            self._each(
                request,
                [diff for diff, _text, possible in plans if possible],
                lambda diff: actions.issue_tickets(diff, request.user),
                lambda n: ngettext("%d order paid.", "%d orders paid.", n) % n,
            )

        return self._confirm(
            request,
            queryset,
            action="issue_tickets",
            title=_("Issue the order's tickets"),
            plans=plans,
            note_required=False,
            note_label=_("Note (not used)"),
            perform=perform,
        )

    @admin.action(description=gettext_lazy("Resolve with a note"), permissions=["resolve"])
    def resolve_with_note(self, request, queryset: QuerySet[Difference]):
        plans = [
            (
                diff,
                _("Closed as resolved, with your note.")
                if diff.is_open
                else _("Not possible: already resolved."),
                diff.is_open,
            )
            for diff in queryset
        ]

        def perform(note):
            self._each(
                request,
                [diff for diff, _text, possible in plans if possible],
                lambda diff: actions.resolve(diff, request.user, note),
                lambda n: ngettext("%d difference resolved.", "%d differences resolved.", n) % n,
            )

        return self._confirm(
            request,
            queryset,
            action="resolve_with_note",
            title=_("Resolve with a note"),
            plans=plans,
            note_required=True,
            note_label=_("Why is this resolved?"),
            perform=perform,
        )

    @admin.action(description=gettext_lazy("Write a note"), permissions=["resolve"])
    def add_note(self, request, queryset: QuerySet[Difference]):
        plans = [(diff, _("The note replaces the difference's note."), True) for diff in queryset]

        def perform(note):
            self._each(
                request,
                queryset,
                lambda diff: actions.add_note(diff, request.user, note),
                lambda n: ngettext("%d note written.", "%d notes written.", n) % n,
            )

        return self._confirm(
            request,
            queryset,
            action="add_note",
            title=_("Write a note"),
            plans=plans,
            note_required=True,
            note_label=_("Note"),
            perform=perform,
        )
