"""The buyer-code table of the README maps to the scenarios the sandbox plays."""

import pytest

from payments.sandbox.scenarios import Scenario, behaviour_for, is_well_formed


@pytest.mark.parametrize(
    ("code", "scenario", "n"),
    [
        ("280000000000000001", Scenario.INSTANT, 0),
        ("280000000000000002", Scenario.INSUFFICIENT_BALANCE, 0),
        ("280000000000000310", Scenario.PIN_CONFIRM, 10),
        ("280000000000000004", Scenario.PIN_NEVER, 0),
        ("280000000000000530", Scenario.PIN_DECLINE, 30),
        ("280000000000000603", Scenario.SYSTEM_ERROR_CALLS, 3),
        ("280000000000000007", Scenario.SLOW_PAY_REPLY, 0),
        ("280000000000000008", Scenario.BAD_PAY_SIGNATURE, 0),
        ("280000000000000905", Scenario.CANCEL_SYSTEM_ERROR, 5),
        ("280000000000001002", Scenario.QUERY_SYSTEM_ERROR, 2),
        ("280000000000000011", Scenario.SLOW_REFUND_REPLY, 0),
        ("280000000000000012", Scenario.REFUND_SYSTEM_ERROR, 0),
        ("280000000000000000000001", Scenario.INSTANT, 0),
        ("280000000000000099", Scenario.NORMAL, 0),
        ("281234567890123456", Scenario.NORMAL, 0),
        ("2512345678901234", Scenario.NORMAL, 0),
    ],
)
def test_each_code_selects_its_scenario(code, scenario, n):
    assert is_well_formed(code)
    assert (behaviour_for(code).scenario, behaviour_for(code).n) == (scenario, n)


@pytest.mark.parametrize(
    "code", ["2412345678901234", "3112345678901234", "281234567890123", "2" * 25, "28abc", ""]
)
def test_malformed_codes_are_not_buyers(code):
    assert not is_well_formed(code)
