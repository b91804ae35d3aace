"""Frictions and margin: spread widening, commissions, the defined-risk condor margin, config keys."""

from __future__ import annotations

import numpy as np
import pytest

from alvh.config import ConfigError, parse_scenario
from alvh.costs import (
    SPX_MULTIPLIER,
    VIX_FUTURE_MULTIPLIER,
    VIX_OPTION_MULTIPLIER,
    Frictions,
    InstrumentCosts,
    condor_margin,
)


def test_contract_multipliers_match_the_exchange_specifications():
    # Cboe contract specifications: SPX and VIX options $100 per point, VIX futures (VX) $1,000.
    assert (SPX_MULTIPLIER, VIX_OPTION_MULTIPLIER, VIX_FUTURE_MULTIPLIER) == (100.0, 100.0, 1000.0)


def test_half_spread_formula_by_hand():
    c = InstrumentCosts(100.0, min_half_spread=0.05, rel_half_spread=0.02, vix_elasticity=1.0, commission=1.0)
    # (0.05 + 0.02 * 10) * (30 / 15)^1 = 0.25 * 2 = 0.5 points
    assert c.half_spread(10.0, 30.0, 15.0) == pytest.approx(0.5, rel=1e-15)
    # 3 contracts: 3 * (0.5 * 100 + 1.0) = 153 dollars
    assert c.trade_cost(10.0, 30.0, 15.0, 3.0) == pytest.approx(153.0, rel=1e-15)
    # selling (negative quantity) costs the same
    assert c.trade_cost(10.0, 30.0, 15.0, -3.0) == pytest.approx(153.0, rel=1e-15)


@pytest.mark.parametrize("elasticity", [0.5, 1.0, 2.0])
def test_spreads_widen_with_the_vix_and_with_the_price(elasticity):
    c = InstrumentCosts(100.0, 0.05, 0.02, elasticity, 1.0)
    vix = np.array([10.0, 15.0, 20.0, 40.0, 80.0])
    hs = c.half_spread(5.0, vix, 15.0)
    assert np.all(np.diff(hs) > 0)
    assert hs[1] == pytest.approx(0.05 + 0.02 * 5.0, rel=1e-15)          # the reference level
    assert hs[3] / hs[1] == pytest.approx((40.0 / 15.0) ** elasticity, rel=1e-12)
    assert np.all(np.diff(c.half_spread(np.array([0.1, 1.0, 10.0]), 20.0, 15.0)) > 0)


def test_half_spread_is_capped():
    c = InstrumentCosts(100.0, 0.05, 0.01, 1.0, 1.0, max_half_spread=5.0)
    # (0.05 + 0.01 * 3000) * (300 / 15) = 601 points uncapped: the cap of 5 applies
    assert c.half_spread(3000.0, 300.0, 15.0) == 5.0
    assert c.half_spread(10.0, 15.0, 15.0) == pytest.approx(0.15, rel=1e-15)   # below the cap: unchanged
    with pytest.raises(ValueError, match="max_half_spread"):
        InstrumentCosts(100.0, 0.05, 0.01, 1.0, 1.0, max_half_spread=0.0)


def test_flat_frictions_are_constant_and_commission_free():
    f = Frictions.flat(0.10, 0.05)
    assert f.spx_option.half_spread(np.array([0.5, 50.0]), np.array([10.0, 80.0]), f.vix_ref) == pytest.approx(0.10)
    assert f.vix_option.trade_cost(2.0, 60.0, f.vix_ref, 2.0) == pytest.approx(2 * 0.05 * 100.0)


@pytest.mark.parametrize("field, value", [("min_half_spread", -0.1), ("rel_half_spread", np.nan),
                                          ("commission", -1.0), ("multiplier", 0.0)])
def test_instrument_costs_refuse_bad_values(field, value):
    kw = dict(multiplier=100.0, min_half_spread=0.05, rel_half_spread=0.02, vix_elasticity=1.0, commission=1.0)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        InstrumentCosts(**kw)


def test_frictions_refuse_nonpositive_reference_vix():
    with pytest.raises(ValueError, match="vix_ref"):
        Frictions(vix_ref=0.0)


def test_condor_margin_is_width_less_credit():
    # a 50-point condor sold for 3.20 can lose at most 46.80 points at expiry
    assert condor_margin(50.0, 3.2) == pytest.approx(46.8, rel=1e-15)
    assert condor_margin(np.array([50.0, 25.0]), np.array([60.0, 5.0])).tolist() == [0.0, 20.0]


def test_describe_states_every_instrument():
    lines = Frictions().describe()
    assert len(lines) == 3 and all("commission" in line and "multiplier" in line for line in lines)


def test_scenario_costs_keys_reach_the_market_spec():
    text = """name = "x"
[market.costs]
vix_ref = 20.0
spx_option = { min_half_spread = 0.1, rel_half_spread = 0.01, vix_elasticity = 0.5, commission = 0.65 }
"""
    sc = parse_scenario(text)
    f = sc.market.frictions
    assert f.vix_ref == 20.0
    assert (f.spx_option.min_half_spread, f.spx_option.rel_half_spread, f.spx_option.vix_elasticity,
            f.spx_option.commission) == (0.1, 0.01, 0.5, 0.65)
    assert f.spx_option.multiplier == SPX_MULTIPLIER
    assert f.vix_future.multiplier == VIX_FUTURE_MULTIPLIER
    assert f.vix_option == Frictions().vix_option        # defaults where not given


@pytest.mark.parametrize("text, pattern", [
    ('name = "x"\n[market.costs.spx_option]\ncommission = -1\n', r"market\.costs\.spx_option\.commission"),
    ('name = "x"\n[market.costs]\nvix_ref = 0\n', r"market\.costs\.vix_ref"),
    ('name = "x"\n[market]\nspx_half_spread = 0.1\n', r"spx_half_spread"),
    ('name = "x"\n[market]\nspx_surface = "flat"\n', r"market\.spx_surface"),
])
def test_scenario_refuses_bad_cost_keys(text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_scenario(text)
