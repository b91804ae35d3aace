"""``alvh market-replay``: VIX hedges at real prices, and with ``--scenario`` every strategy of a
scenario with its VIX layers at real prices."""

from __future__ import annotations

import argparse
import textwrap

from alvh.cli.common import _fail, _model_scenario, _new_csv, _say, _write_csv


def _market_replay(args: argparse.Namespace) -> int:
    """``alvh market-replay``: :func:`alvh.marketreplay.market_replay`, printed and optionally written."""
    import pandas as pd

    from alvh.marketreplay import SMILE_RULES, market_replay

    for key in ("start", "end"):
        try:
            pd.Timestamp(getattr(args, key))
        except ValueError:
            return _fail(f"--{key} {getattr(args, key)}: not a date (YYYY-MM-DD)")
    if pd.Timestamp(args.start) >= pd.Timestamp(args.end):
        return _fail(f"--start {args.start} must be before --end {args.end}")
    if pd.Timestamp(args.start) < pd.Timestamp("2004-03-26") or pd.Timestamp(args.end) > pd.Timestamp("2024-12-31"):
        return _fail(f"--start/--end {args.start} .. {args.end}: the bundled VIX futures cover 2004-03-26 .. 2024-12-31")
    if args.out and (why := _new_csv(args.out)):
        return _fail(f"--out {why}")
    scenario = None
    if args.scenario:
        scenario = _model_scenario(args.scenario, "a replay has no model to price its SPX options")
        if isinstance(scenario, int):
            return scenario
        from alvh.data import DataError, load_market_data
        from alvh.realprices import FIRST_DAY, LAST_DAY, real_price_window

        try:
            data = load_market_data(scenario.data, str(scenario.path), scenario.path.parent)
        except DataError as exc:
            return _fail(str(exc))
        if real_price_window(data.dates).sum() < 2:
            return _fail(f"{args.scenario}: key 'data': its window has no day in {FIRST_DAY} .. {LAST_DAY} "
                         "(the days with real VIX prices)")
    try:
        table = market_replay(args.start, args.end)
    except ValueError as exc:
        return _fail(str(exc))
    fut = table[table["strategy"] == "long_futures"].set_index(["period_kind", "period"])
    vx = table[table["strategy"] == "vxth"].pivot_table(index=["period_kind", "period"], columns="smile",
                                                         values="pnl_pct", sort=False)
    default = SMILE_RULES[0].name
    print(textwrap.fill(
        f"VIX hedges at real prices, {args.start} .. {args.end}, in % of a $1,000,000 portfolio (the hedge alone). "
        "Futures: one long front-month VX contract, rolled (also as summed daily returns on its notional). VXTH: "
        f"Cboe's rule from 2006-03, calls by Black-76 with the smile rule '{default}'; its range over the "
        f"{len(SMILE_RULES)} smile rules beside it.", width=100))
    print(f"{'period':<17} {'futures':>8} {'on notional':>12} {'VXTH':>8} {'VXTH range':>16}")
    for (kind, period), row in fut.iterrows():
        if (kind, period) in vx.index:
            v = vx.loc[(kind, period)]
            vx_txt = f"{v[default]:>8.2f} {f'{v.min():.2f} .. {v.max():.2f}':>16}"
        else:
            vx_txt = f"{'':>8} {'no VVIX':>16}"
        print(f"{period:<17} {row['pnl_pct']:>8.2f} {row['return_on_notional_pct']:>12.1f} {vx_txt}")
    if scenario is not None:
        strat = _scenario_at_real_prices(scenario)
        if isinstance(strat, int):
            return strat
        table = pd.concat([table.assign(hedge_pnl_pct=table["pnl_pct"], pricing="real"), strat], ignore_index=True)
    if args.out and (failed := _write_csv(table, args.out, "Table")) is not None:
        return failed
    return 0


def _scenario_at_real_prices(scenario):
    """``market-replay --scenario``: the scenario's strategies at real and at model VIX prices, printed;
    the rows of :func:`alvh.realprices.replay_periods` (columns as the market-replay table), or an exit
    status."""
    import pandas as pd

    from alvh import runner
    from alvh.data import DataError
    from alvh.marketreplay import SMILE_RULES
    from alvh.modelspec import ParamsFileError
    from alvh.realprices import real_price_replay, real_price_window, replay_periods

    path = scenario.path or scenario.name
    _say(f"alvh: scenario '{scenario.name}': calibrating (cached) ...")
    try:
        prep = runner.prepare(scenario, scenario.simulation["seed"], cache=True)
        names = ["condor"] + [h.name for h in scenario.hedges]
        cap = prep.market.capital
        _say(f"alvh: replaying {len(names)} strategies at real prices under {len(SMILE_RULES)} smile rules ...")
        parts = [replay_periods(real_price_replay(prep, rule), names, cap, "real").assign(smile=rule.name)
                 for rule in SMILE_RULES]
        model = runner.replay(prep, days=real_price_window(prep.data.dates))
        parts.append(replay_periods(model, names, cap, "model").assign(smile=""))
    except (DataError, ParamsFileError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{path}: {exc}")
    rows = pd.concat(parts, ignore_index=True)
    rows["strategy"] = scenario.name + ":" + rows["strategy"]
    first, last = (str(d)[:10] for d in (model.dates[0], model.dates[-1]))
    whole = rows[rows["period_kind"] == "whole"]
    default = SMILE_RULES[0].name
    print()
    print(textwrap.fill(
        f"Scenario '{scenario.name}', every strategy on the real days {first} .. {last}: the hedge book's P&L in "
        f"% of capital a year, its VIX layers at real prices (smile rule '{default}', the range over the "
        f"{len(SMILE_RULES)} rules) and at the {prep.model.name} model's own prices; SPX options at the model's "
        "prices in both (sim/realprices.py).", width=100))
    print(f"{'strategy':<28} {'real':>8} {'real range':>16} {'model':>8} {'book, real':>11}")
    for name in names:
        w = whole[whole["strategy"] == f"{scenario.name}:{name}"]
        real = w[w["pricing"] == "real"].set_index("smile")
        mod = w[w["pricing"] == "model"].iloc[0]
        rng = f"{real['hedge_pnl_pct'].min():.2f} .. {real['hedge_pnl_pct'].max():.2f}"
        print(f"{name[:28]:<28} {real.loc[default, 'hedge_pnl_pct']:>8.2f} {rng:>16} {mod['hedge_pnl_pct']:>8.2f} "
              f"{real.loc[default, 'pnl_pct']:>11.2f}")
    return rows
