"""Default grids of the checks (starting VIX levels, expiries, moneyness), the futures month and the step."""

from __future__ import annotations

#: Default starting VIX levels (points) for :func:`vix_table_vs_mc`.
VIX_LEVELS = (12.0, 16.0, 25.0, 40.0, 60.0)
#: Default expiries (trading days) for :func:`vix_table_vs_mc`: one week, one, two and three months.
EXPIRIES = (5, 21, 42, 63)
#: Default strikes as multiples of the (table) VIX future: ATM, 20% and 50% out of the money.
MONEYNESS = (1.0, 1.2, 1.5)
#: Trading days per futures month (VIX futures are listed monthly; 252 / 12).
DAYS_PER_MONTH = 21

_DT = 1.0 / 252.0
