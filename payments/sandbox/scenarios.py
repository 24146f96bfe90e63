"""Test buyer codes: the buyer code a cashier scans chooses how the sandbox behaves.

Like a card processor's test card numbers (README "Test buyer codes (sandbox)"). The codes are
18 digits `28000000000000XXYY`: XX picks a scenario that takes a parameter YY (seconds or a count),
XX=00 picks a fixed scenario by YY. Any other well-formed code is a normal buyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from payments.alipay.validation import is_buyer_code

_TEST_PREFIX = "28000000000000"
TWENTY_FOUR_DIGIT_CODE = "280000000000000000000001"
# Seconds after the pay at which a "PIN confirmed" buyer of 2800000000000010NN confirms.
SLOW_QUERY_CONFIRM_SECONDS = 5


class Scenario(StrEnum):
    INSTANT = "instant"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    PIN_CONFIRM = "pin_confirm"  # n = seconds until the buyer confirms
    PIN_NEVER = "pin_never"
    PIN_DECLINE = "pin_decline"  # n = seconds until the buyer declines
    SYSTEM_ERROR_CALLS = "system_error_calls"  # n = pay/query calls answering SYSTEM_ERROR
    SLOW_PAY_REPLY = "slow_pay_reply"
    BAD_PAY_SIGNATURE = "bad_pay_signature"
    CANCEL_SYSTEM_ERROR = "cancel_system_error"  # n = cancel calls answering SYSTEM_ERROR
    QUERY_SYSTEM_ERROR = "query_system_error"  # n = queries answering SYSTEM_ERROR
    SLOW_REFUND_REPLY = "slow_refund_reply"
    REFUND_SYSTEM_ERROR = "refund_system_error"
    NORMAL = "normal"  # instant below settings.SANDBOX_PIN_THRESHOLD, PIN in the wallet above


_FIXED = {
    "01": Scenario.INSTANT,
    "02": Scenario.INSUFFICIENT_BALANCE,
    "04": Scenario.PIN_NEVER,
    "07": Scenario.SLOW_PAY_REPLY,
    "08": Scenario.BAD_PAY_SIGNATURE,
    "11": Scenario.SLOW_REFUND_REPLY,
    "12": Scenario.REFUND_SYSTEM_ERROR,
}
_PARAMETRIC = {
    "03": Scenario.PIN_CONFIRM,
    "05": Scenario.PIN_DECLINE,
    "06": Scenario.SYSTEM_ERROR_CALLS,
    "09": Scenario.CANCEL_SYSTEM_ERROR,
    "10": Scenario.QUERY_SYSTEM_ERROR,
}


@dataclass(frozen=True)
class BuyerBehaviour:
    scenario: Scenario
    n: int = 0


def is_well_formed(code: str) -> bool:
    """16-24 digits with a prefix 25-30 (docs/alipay.md, spot.pay `buyer_identity_code`)."""
    return is_buyer_code(code)


def behaviour_for(code: str) -> BuyerBehaviour:
    """The scenario a well-formed buyer code selects."""
    if code == TWENTY_FOUR_DIGIT_CODE:
        return BuyerBehaviour(Scenario.INSTANT)
    if len(code) == 18 and code.startswith(_TEST_PREFIX):
        kind, param = code[14:16], code[16:18]
        if kind == "00" and param in _FIXED:
            return BuyerBehaviour(_FIXED[param])
        if kind in _PARAMETRIC:
            return BuyerBehaviour(_PARAMETRIC[kind], int(param))
    return BuyerBehaviour(Scenario.NORMAL)
