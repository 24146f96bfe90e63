"""The shop's forms: what a buyer types, checked before any service is called.

Forms validate shape (numbers, lengths, an e-mail address); the services decide what is possible
(places left, hold still valid) and their errors are shown next to the form by the views.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.utils.translation import gettext_lazy as _

from ticketing.models.catalogue import TicketType

MAX_PER_TYPE = 20


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
        quantity_fields = {}
        for ticket_type in self.ticket_types:
            field = forms.IntegerField(
                label=ticket_type.display_name(language),
                min_value=0,
                max_value=MAX_PER_TYPE,
                initial=0,
                required=False,
                widget=forms.NumberInput(
                    attrs={"inputmode": "numeric", "min": 0, "max": MAX_PER_TYPE}
                ),
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
        if self.errors:
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
