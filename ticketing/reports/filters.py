"""What a sales report is asked for: its GET parameters, validated before any query runs.

A bad value is the user's mistake, not the server's: the view answers 400 with these messages.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from payments import clock
from ticketing.models import Attraction

# Bounds the work one request may ask of the database (and the rows a chart must draw).
MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30


class Period:
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CHOICES = [(DAY, _("Day")), (WEEK, _("Week")), (MONTH, _("Month"))]


class Channel:
    """The report's channels: the two an order records, and the partner API's orderless
    payments."""

    ONLINE = "online"
    BOX_OFFICE = "box_office"
    PARTNER_API = "partner_api"
    ORDER_CHANNELS = (ONLINE, BOX_OFFICE)
    CHOICES = [
        (ONLINE, _("Online")),
        (BOX_OFFICE, _("Box office")),
        (PARTNER_API, _("Partner API")),
    ]


def site_zone() -> zoneinfo.ZoneInfo:
    """Where sales without an attraction (the partner API's) are counted: the site's zone."""
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def site_today() -> dt.date:
    return clock.now().astimezone(site_zone()).date()


class ReportForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(label=_("Until"), required=False, input_formats=["%Y-%m-%d"])
    period = forms.ChoiceField(label=_("Period"), choices=Period.CHOICES, required=False)
    attraction = forms.ModelChoiceField(
        label=_("Attraction"),
        queryset=Attraction.objects.order_by("sort_order", "name"),
        required=False,
        empty_label=_("All attractions"),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("All channels")), *Channel.CHOICES], required=False
    )
    currency = forms.RegexField(
        label=_("Currency"),
        regex=r"^[A-Z]{3}$",
        required=False,
        max_length=3,
        error_messages={"invalid": _("Use an ISO 4217 code such as CNY.")},
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or site_today()
        start = data.get("start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                _("A report covers at most %(days)s days."), params={"days": MAX_DAYS}
            )
        data["start"], data["end"] = start, end
        data["period"] = data.get("period") or Period.DAY
        return data


@dataclass(frozen=True)
class ReportQuery:
    """A validated request: local dates, inclusive, in each attraction's own time zone."""

    start: dt.date
    end: dt.date
    period: str = Period.DAY
    attraction: Attraction | None = None
    channel: str = ""
    currency: str = ""

    @classmethod
    def from_form(cls, form: ReportForm) -> ReportQuery:
        data = form.cleaned_data
        return cls(
            start=data["start"],
            end=data["end"],
            period=data["period"],
            attraction=data.get("attraction"),
            channel=data.get("channel") or "",
            currency=data.get("currency") or "",
        )

    def with_range(self, start: dt.date, end: dt.date, period: str) -> ReportQuery:
        return ReportQuery(start, end, period, self.attraction, self.channel, self.currency)
