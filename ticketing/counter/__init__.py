"""The box office as a counter: shifts on tills, cash beside Alipay, refunds, Z reports, receipts.

    denominations  the notes and coins a drawer is counted in; typed amounts
    shifts         open and close a shift (float, count, variance, approval); the open shift
    sales          counter orders tied to the shift; paying in cash; refunds at the counter
    reports        Z reports per shift and per day and till
    receipts       sale, refund and cancel receipts and Z reports as 80 mm PDFs

Everything that moves money or a shift's state is here, each change a compare-and-set with its
audit record in one transaction; order transitions go through ticketing.orders.
"""
