"""Ticketing's forms: what a buyer or staff type or scan, checked before any service is called.

Forms validate shape (numbers, lengths, an e-mail address); the services decide what is possible
(places left, hold still valid) and their errors are shown next to the form by the views.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.utils.translation import gettext_lazy as _

from ticketing.models.catalogue import TicketType
from ticketing.orders import max_admissions


class TicketsForm(forms.Form):
    """Quantity per ticket type, then the buyer's name and e-mail address."""

    buyer_name = forms.CharField(
        label=_("Your name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        help_text=_("Printed on the tickets."),
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("We send the tickets here."),
    )

    def __init__(self, *args, ticket_types: Iterable[TicketType], language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket_types = list(ticket_types)
        # The booking service's own limit (per type, as per order), so the form never allows
        # more than the order would accept.
        most = max_admissions()
        quantity_fields = {}
        for ticket_type in self.ticket_types:
            field = forms.IntegerField(
                label=ticket_type.display_name(language),
                min_value=0,
                max_value=most,
                initial=0,
                required=False,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "max": most}),
            )
            field.ticket_type = ticket_type
            quantity_fields[self.quantity_field_name(ticket_type)] = field
        # Quantities first, in the catalogue's order, then the buyer's details.
        self.fields = {**quantity_fields, **self.fields}

    @staticmethod
    def quantity_field_name(ticket_type: TicketType) -> str:
        return f"qty_{ticket_type.pk}"

    def quantity_fields(self) -> list[forms.BoundField]:
        return [self[self.quantity_field_name(t)] for t in self.ticket_types]

    def detail_fields(self) -> list[forms.BoundField]:
        return [self["buyer_name"], self["email"]]

    def clean_buyer_name(self) -> str:
        name = " ".join(self.cleaned_data["buyer_name"].split())
        if not name:
            raise forms.ValidationError(_("Please enter your name."))
        return name

    def clean(self):
        cleaned = super().clean()
        # Checked even when the name or e-mail is wrong, so every problem shows at once; only a
        # quantity field's own error (not a number, too many) already says what is wrong.
        if any(self.quantity_field_name(t) in self.errors for t in self.ticket_types):
            return cleaned
        if not any(qty for qty in self.quantities().values()):
            raise forms.ValidationError(_("Choose at least one ticket."), code="no_tickets")
        return cleaned

    def quantities(self) -> dict[int, int]:
        """Ticket type id -> quantity, only the ones chosen (what orders.create_order takes)."""
        result = {}
        for ticket_type in self.ticket_types:
            qty = self.cleaned_data.get(self.quantity_field_name(ticket_type)) or 0
            if qty:
                result[ticket_type.pk] = qty
        return result


class LookupForm(forms.Form):
    """Order code and the e-mail address it was booked with: both must match."""

    code = forms.CharField(
        label=_("Order code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        help_text=_("It is in your confirmation e-mail, 8 letters and digits, e.g. 7KQ2M9XD."),
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).upper()
        if not code.isascii() or not code.isalnum():
            raise forms.ValidationError(_("An order code has only letters and digits."))
        return code


class ScannerInput(forms.TextInput):
    """A text field a barcode scanner types into: focused, no browser help, Enter submits.

    The gate (e-ticket codes) and the box office (buyers' payment codes) scan with it; each
    adds what suits its codes (capitals, digits).
    """

    def __init__(self, **extra_attrs):
        super().__init__(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                **extra_attrs,
                "autocorrect": "off",
                "spellcheck": "false",
                "enterkeyhint": "go",
            }
        )


class TicketScanForm(forms.Form):
    """The gate: one scanned e-ticket code, admitted or only checked."""

    # A token is 154 characters; room for a scanner's prefix or suffix, nothing like a flood.
    MAX_LENGTH = 400

    token = forms.CharField(
        label=_("Ticket code"),
        max_length=MAX_LENGTH,
        strip=True,
        help_text=_("Scan the QR code on the ticket, or type its code and press Enter."),
        widget=ScannerInput(autocapitalize="characters"),
    )
    check_only = forms.BooleanField(label=_("Check only (do not admit)"), required=False)


class PaymentCodeForm(forms.Form):
    """The box office: the payment code the buyer shows in Alipay, scanned at the counter."""

    buyer_code = forms.CharField(
        label=_("Buyer's payment code"),
        max_length=64,
        strip=True,
        help_text=_(
            "Scan the payment code in the buyer's Alipay app, or type its digits and press Enter."
        ),
        widget=ScannerInput(inputmode="numeric"),
    )
