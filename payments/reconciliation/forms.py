"""The admin's forms: uploading a day's files, choosing a report's days, a note on an action."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

# The longest range a report reads at once: a year of days, weeks or months.
MAX_RANGE_DAYS = 366
MAX_UPLOAD_BYTES = 512 << 20


class UploadForm(forms.Form):
    transaction_file = forms.FileField(
        label=_("Transaction file"),
        required=False,
        help_text=_("The day's transactions file from Alipay (CSV)."),
    )
    settlement_file = forms.FileField(
        label=_("Settlement file"),
        required=False,
        help_text=_("The day's settlement file from Alipay (CSV)."),
    )

    def clean(self):
        data = super().clean()
        given = [f for f in (data.get("transaction_file"), data.get("settlement_file")) if f]
        if not given and not self.errors:
            raise forms.ValidationError(
                _("Choose a transaction file, a settlement file, or both."), code="no_file"
            )
        for name in ("transaction_file", "settlement_file"):
            upload = data.get(name)
            if upload and upload.size > MAX_UPLOAD_BYTES:
                self.add_error(name, _("This file is larger than 512 MB."))
        return data

    def files_given(self) -> list:
        return [
            self.cleaned_data[name]
            for name in ("transaction_file", "settlement_file")
            if self.cleaned_data.get(name)
        ]


class DayForm(forms.Form):
    day = forms.DateField(label=_("Day (Beijing)"), input_formats=["%Y-%m-%d"])


class RangeForm(forms.Form):
    PERIODS = [("day", _("Days")), ("week", _("Weeks")), ("month", _("Months"))]

    start = forms.DateField(label=_("From"), input_formats=["%Y-%m-%d"])
    end = forms.DateField(label=_("To"), input_formats=["%Y-%m-%d"])
    period = forms.ChoiceField(label=_("Per"), choices=PERIODS, initial="day")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end comes before the start."), code="order")
            if end - start > timedelta(days=MAX_RANGE_DAYS):
                raise forms.ValidationError(
                    _("Choose at most %(days)d days.") % {"days": MAX_RANGE_DAYS}, code="long"
                )
        return data


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=2000,
        required=False,
    )
