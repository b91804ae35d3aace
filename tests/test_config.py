"""Scenario validation: every rule gives one clear line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from alvh.config import ConfigError, load_scenario, parse_scenario

BASELINE = Path(__file__).parents[1] / "scenarios" / "baseline.toml"


def test_baseline_parses_to_the_documented_defaults():
    sc = load_scenario(BASELINE)
    assert sc.name == "baseline"
    assert sc.condor.short_delta == 0.15 and sc.condor.dte == 45 and sc.condor.stop_multiple == 2.0
    alvh = sc.hedges[0]
    assert sc.main_hedge == "alvh" == alvh.name and alvh.kind == "alvh"
    # the file spells out the texts' ALVH: it must equal the coded defaults (../shared/ALVH.md)
    from alvh.strategy import HedgeSpec

    # ... except layer 2's sizing, which the file sets to the budget (the texts: vega)
    from dataclasses import replace

    default = HedgeSpec()
    assert default.layers[1].sizing == "vega" and alvh.layers[1].sizing == "budget"
    assert alvh == replace(default, layers=(default.layers[0], replace(default.layers[1], sizing="budget"),
                                            *default.layers[2:]))
    for stem in ("alvh_45dte", "alvh_1dte"):   # the texts' variants keep every default of the hedge
        assert load_scenario(BASELINE.with_name(f"{stem}.toml")).hedges[0] == default
    assert [ly.allocation for ly in alvh.layers[:3]] == [0.4, 0.4, 0.2]
    assert [(ly.dte_open, ly.dte_roll) for ly in alvh.layers[:3]] == [(7, 4), (45, 30), (90, 60)]
    assert alvh.layers[1].trigger_vix == 16.0 and alvh.rsi_period == 21 and alvh.rsi_exit == 30
    names = [h.name for h in sc.hedges]
    assert names == ["alvh", "vix_ladder", "vxth", "spx_put_spread", "alvh_budget_0.5", "alvh_budget_1",
                     "alvh_budget_2", "alvh_budget_3"]
    assert all(h.kind == "sweep" for h in sc.hedges[4:])
    # the default world is the two-factor model on 35 years of bundled data (issue "market-true");
    # the one-factor Heston world keeps its 2014-2018 window and every strategy key of the baseline
    assert sc.model["type"] == "two_factor" and sc.data["spx"] == "bundled:spx"
    assert sc.data["start"] == "1990-01-02" and sc.data["end"] == "2024-12-31" and sc.n_steps == 252
    assert sc.text == BASELINE.read_text()
    heston = load_scenario(BASELINE.with_name("heston_2014_2018.toml"))
    assert heston.model["type"] == "heston" and heston.data["start"] == "2014-01-03"
    # the same condor but for the wings, 2.0% of the start's SPX close in both (50 of 2,506.85; 120 of 5,881.63)
    from dataclasses import replace
    assert heston.hedges == sc.hedges and replace(heston.condor, wing_width=120.0) == sc.condor


def test_minimal_scenario_takes_defaults():
    sc = parse_scenario('name = "x"\n')
    assert sc.simulation["n_paths"] == 20000 and sc.market.capital == 1_000_000
    assert sc.model["v0"] == "last"


@pytest.mark.parametrize(
    "text, pattern",
    [
        ('name = "x"\n[strategy.condor]\nshort_delt = 0.1\n', r"f.toml: key 'strategy.condor.short_delt': unknown key"),
        ('name = "x"\nfoo = 1\n', r"key 'foo': unknown key"),
        ('name = "x"\n[simulation]\nn_paths = "many"\n', r"key 'simulation.n_paths': 'many' is not of type 'integer'"),
        ('name = "x"\n[strategy.condor]\nshort_delta = 0.7\n', r"key 'strategy.condor.short_delta': 0.7 is greater than or equal to the maximum of 0.5"),
        ('name = "x"\n[simulation]\nn_paths = 0\n', r"key 'simulation.n_paths': 0 is less than the minimum of 1"),
        ('name = "x"\n[model]\nv0 = "first"\n', r"key 'model.v0': 'first' is not valid"),
        ('name = "x"\n[strategy.alvh]\nbudget_pct_per_year = 1\n', r"key 'strategy.alvh': unknown key"),
        ('name = "x"\n[[strategy.hedges.h.layers]]\nallocation = 0.5\ndte_open = 7\ndte_roll = 4\n'
         '[[strategy.hedges.h.layers]]\nallocation = 0.4\ndte_open = 45\ndte_roll = 30\n',
         r"key 'strategy.hedges.h': .*allocations of the long layers must sum to 1, sum to 0.9"),
        ('name = "x"\n[[strategy.hedges.h.layers]]\nallocation = 1\ndte_open = 45\ndte_roll = 50\n',
         r"key 'strategy.hedges.h': .*layer 1: rolls at 50"),
        ('name = "x"\n[[strategy.hedges.h.layers]]\nallocation = 1\ndte_open = 45\n',
         r"key 'strategy.hedges.h.layers\[0\]': 'dte_roll' is a required property"),
        ('name = "x"\n[[strategy.hedges.h.layers]]\nallocation = 1\ndte_open = 45\ndte_roll = 30\ninstrument = "put"\n',
         r"key 'strategy.hedges.h.layers\[0\].instrument': 'put' is not one of"),
        ('name = "x"\n[[strategy.hedges.h.layers]]\nallocation = 1\ndte_open = 45\ndte_roll = 30\ninstrument = "future"\n',
         r"a VIX future has no premium; size it by 'vega'"),
        ('name = "x"\n[strategy.hedges.vxth]\n', r"key 'strategy.hedges.vxth': the name 'vxth' is reserved"),
        ('name = "x"\n[strategy.hedges.h]\nbudget_bands = [[30, 15, 12]]\n', r"band \[30.0, 15.0, 12.0\] needs low < high"),
        ('name = "x"\n[strategy.hedges.h]\nenabled = false\n[analysis]\nbudget_sweep = [1.0]\n',
         r"key 'analysis.budget_sweep': there is no hedge to sweep"),
        ('name = "x"\n[market.spx_smile]\neta = 1.5\n', r"key 'market.spx_smile.eta': .* must be <= 2"),
        ('name = "x"\n[data]\nstart = 2018-01-01\nend = 2017-01-01\n', r"key 'data.start'"),
        ('[simulation]\nn_paths = 5\n', r"f.toml: 'name' is a required property"),
        ('name = "x"\n[simulation\n', r"f.toml: invalid TOML"),
        ('name = "a b"\n', r"key 'name': 'a b' is not valid \(output folder name"),
        ('name = "x"\n[model]\ntype = "sabr"\n', r"key 'model.type': 'sabr' is not one of"),
        ('name = "x"\n[[stress.shocks]]\nday = 3\npreset = "2020-03-16"\n', r"key 'stress.shocks\[0\].preset'"),
        ('name = "x"\n[[stress.shocks]]\nday = 3\n', r"key 'stress.shocks\[0\]': needs a preset or an spx_return"),
        ('name = "x"\n[[stress.shocks]]\nday = 3\npreset = "2018-02-05"\nspx_return = -0.1\n',
         r"give a preset or spx_return/vix_multiplier, not both"),
        ('name = "x"\n[[stress.shocks]]\nday = 300\nspx_return = -0.1\n', r"day 300 is beyond the horizon \(252"),
        ('name = "x"\n[[stress.shocks]]\nday = 3\nspx_return = -0.1\n[[stress.shocks]]\nday = 3\nspx_return = 0.1\n',
         r"shock days must be distinct"),
        ('name = "x"\n[stress.events]\nevery_days = 30\n', r"key 'stress.events': .*model 'heston' has no jumps"),
        ('name = "x"\n[model]\ntype = "replay"\n[[stress.shocks]]\nday = 3\nspx_return = -0.1\n',
         r"a replay is the real path"),
        ('name = "x"\n[model]\nk_regimes = 4\n', r"key 'model.k_regimes'"),
        ('name = "x"\n[model]\ntype = "gjr_garch"\nmu = 0.05\n', r"key 'model.mu': a number is allowed only for"),
        ('name = "x"\n[model]\nregime0 = 1\n', r"key 'model.regime0': model 'heston' has a single regime"),
        ('name = "x"\n[model]\ntype = "regime_heston"\nk_regimes = 2\nregime0 = 2\n',
         r"key 'model.regime0': regime 2 is outside 0..1"),
        ('name = "x"\n[model]\ntype = "regime_heston"\nk_regimes = 2\n[[stress.shocks]]\nday = 3\nspx_return = -0.1\n'
         'regime = 2\n', r"key 'stress.shocks\[0\].regime': regime 2 is outside 0..1"),
    ],
)
def test_bad_scenarios_are_refused_with_the_key_and_the_rule(text, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        parse_scenario(text, where="f.toml")
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")


def test_every_bundled_scenario_parses():
    files = sorted((Path(__file__).parents[1] / "scenarios").glob("*.toml"))
    assert len(files) >= 1
    for f in files:
        sc = load_scenario(f)
        assert sc.name == f.stem, f


def test_stress_tables_parse():
    sc = parse_scenario('name = "x"\n[model]\ntype = "bates"\n[[stress.shocks]]\nday = 3\npreset = "2018-02-05"\n'
                        '[[stress.shocks]]\nday = 9\nspx_return = -0.05\nvix_multiplier = 1.5\n'
                        '[stress.events]\nmultiplier = 5.0\n')
    assert [s["day"] for s in sc.stress["shocks"]] == [3, 9]
    assert sc.stress["events"] == {"every_days": 30, "multiplier": 5.0, "first_day": 1}
    assert parse_scenario('name = "x"\n').stress == {"shocks": [], "events": None}


def test_the_scenario_reference_page_is_generated_from_the_schema():
    """docs/pages/scenario-reference.md is alvh.config.scenario_reference() (regenerate it with
    ``python -c "from alvh.config import scenario_reference as r; print(r(), end='')" > docs/pages/scenario-reference.md``),
    and lists every leaf key of the schema."""
    from pathlib import Path

    from alvh.config import SCHEMA, scenario_reference

    page = Path(__file__).parent.parent / "docs" / "pages" / "scenario-reference.md"
    assert page.read_text(encoding="utf-8") == scenario_reference()
    for key in ("name", "market.rate", "strategy.hedges.NAME.layers[k].trigger_vix", "stress.shocks[k].day",
                "simulation.n_paths", "analysis.budget_sweep"):
        assert f"| `{key}` |" in page.read_text(encoding="utf-8"), key
    for top in SCHEMA["properties"]:
        assert f"| `{top}" in page.read_text(encoding="utf-8"), top


def test_every_schema_default_is_the_dataclass_default():
    """The scenario schema and the spec dataclasses give every shared key the same default (a spec
    built in Python and one read from a TOML file that leaves the key out are the same spec): the
    schema takes them from the dataclasses (alvh.config.schema.SPEC), so each is written once."""
    import dataclasses

    from alvh import config
    from alvh.strategy import CondorSpec, HedgeSpec, LayerSpec, MarketSpec

    props = config.SCHEMA["properties"]
    tables = ((config._LAYER, LayerSpec), (config._HEDGE, HedgeSpec),
              (props["strategy"]["properties"]["condor"], CondorSpec), (props["market"], MarketSpec))
    checked = 0
    for table, cls in tables:
        for f in dataclasses.fields(cls):
            prop = table["properties"].get(f.name)
            if prop is None or "default" not in prop:
                continue
            want = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            want = list(want) if isinstance(want, tuple) else want
            assert prop["default"] == want, (cls.__name__, f.name, prop["default"], want)
            checked += 1
    assert checked >= 30          # 35 shared keys today: layers, hedges, the condor, the market
