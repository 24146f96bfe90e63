"""E-tickets: signed QR tokens, the PDF per order, its e-mail, and what gates verify against."""
