"""The buyer behind a sandbox trade, as Alipay names them in replies and notifications."""

from __future__ import annotations

from .models import SandboxTrade


def buyer_user_id(trade: SandboxTrade) -> str:
    """A stable 16-digit Alipay user id for the buyer behind a code (20881..., never a PID)."""
    digits = trade.buyer_code[-11:] if trade.buyer_code else "99900000001"
    return "20881" + digits.zfill(11)


def buyer_login_id(trade: SandboxTrade) -> str:
    """Masked, as Alipay shows it."""
    tail = trade.buyer_code[-4:] if trade.buyer_code else "0001"
    return f"bu***{tail}@sandbox.example"
