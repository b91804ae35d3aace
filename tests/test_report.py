"""The HTML report, the CSV tables and the terminal summary on a small synthetic results Dataset.

The Dataset follows the data contract ("The results Dataset") exactly: 4 strategies (unhedged, the
main ALVH hedge, one baseline, one budget-sweep variant), 2 layers, 50 paths, 10 days, a few metric
and claim rows, with and without the historical replay and with one or two regimes.
"""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from alvh.report import format_metric, render_report, summary_text, write_tables  # noqa: E402

N, T, L = 50, 10, 2
CAPITAL = 100_000.0
YEARS = T / 252
NAMES = ["unhedged", "alvh", "vix_ladder", "alvh_budget_0.5"]
LABELS = ["condor (unhedged)", "condor + ALVH", "condor + VIX ladder", "condor + ALVH, budget 0.5%"]
KINDS = ["unhedged", "alvh", "baseline", "sweep"]
BUDGETS = [np.nan, 1.5, np.nan, 0.5]
LEGS = ["long_put", "short_put", "short_call", "long_call"]

SECTIONS = [
    "Answers", "Claim check", "Budget sweep", "Metrics per strategy", "Run and strategies", "Sample paths: SPX and VIX",
    "Annual P&amp;L: hedged vs unhedged", "Annual hedge cost", "Tail risk: CVaR of the annual loss",
    "Attribution: hedge layers and condor legs", "worst paths", "Historical replay",
    "Costs, margin and capital: definitions", "Strategy rules", "Model and calibration", "Realism scorecard",
    "Fit diagnostics: history vs model", "Scenario", "Package versions",
]


def _v(dims, data, units, name):
    return xr.Variable(dims, data, {"units": units, "long_name": name})


def make_ds(*, replay: bool = True, regimes: bool = True, sample_worst: bool = False, metrics: bool = True) -> xr.Dataset:
    rng = np.random.default_rng(3)
    S = len(NAMES)
    pnl = np.empty((S, N))
    pnl[0] = rng.normal(500.0, 3000.0, N)
    hedge = rng.normal(-50.0, 400.0, (S, N))
    hedge[0] = 0.0
    pnl[1:] = pnl[0] + hedge[1:]
    cost = -hedge / CAPITAL / YEARS * 100.0
    layer = np.zeros((S, L, N))
    layer[1:, 0] = 0.6 * hedge[1:]
    layer[1:, 1] = 0.4 * hedge[1:]
    layer[2, 1] = 0.0  # the baseline has one layer only
    layer[2, 0] = hedge[2]
    legs = rng.normal([-100.0, 400.0, 300.0, -80.0], 500.0, (N, 4)).T
    regime_names = ["calm", "crisis"] if regimes else ["single"]
    data = {
        "pnl": _v(("strategy", "path"), pnl, "USD", "total P&L"),
        "max_drawdown": _v(("strategy", "path"), np.abs(rng.normal(0, 2000, (S, N))), "USD", "max drawdown"),
        "worst_day": _v(("strategy", "path"), -np.abs(rng.normal(0, 1500, (S, N))), "USD", "worst day"),
        "hedge_cost_annual_pct": _v(("strategy", "path"), cost, "% of capital per year", "net hedge cost"),
        "hedge_premium": _v(("strategy", "path"), np.abs(hedge), "USD", "premium"),
        "hedge_payoff": _v(("strategy", "path"), np.abs(hedge) / 2, "USD", "payoff"),
        "hedge_spread_cost": _v(("strategy", "path"), np.abs(hedge) / 20, "USD", "spreads"),
        "hedge_commission": _v(("strategy", "path"), np.abs(hedge) / 50, "USD", "commissions"),
        "hedge_active_share": _v(("strategy", "path"), rng.uniform(0, 1, (S, N)), "1", "active share"),
        "peak_capital_used_pct": _v(("strategy", "path"), rng.uniform(10, 60, (S, N)), "% of capital", "peak"),
        "layer_pnl": _v(("strategy", "layer", "path"), layer, "USD", "layer P&L"),
        "condor_leg_pnl": _v(("leg", "path"), legs, "USD", "condor leg P&L"),
        "condor_credit": _v("path", rng.uniform(500, 900, N), "USD", "credit"),
        "condor_spread_cost": _v("path", rng.uniform(10, 30, N), "USD", "spreads"),
        "condor_commission": _v("path", rng.uniform(5, 10, N), "USD", "commissions"),
        "condor_contracts": _v("path", np.full(N, 10.0), "1", "contracts"),
        "n_condors": _v("path", np.full(N, 10), "1", "condors"),
        "n_profit_takes": _v("path", rng.integers(0, 5, N), "1", "profit takes"),
        "n_stops": _v("path", rng.integers(0, 3, N), "1", "stops"),
        "spx_return": _v("path", rng.normal(0, 5, N), "%", "SPX return"),
        "vix_max": _v("path", rng.uniform(14, 60, N), "VIX points", "highest VIX"),
        "top_regime_share": _v("path", rng.uniform(0.5, 1, N), "1", "top regime share"),
        "regime_worst_day": _v("path", rng.integers(0, len(regime_names), N).astype(np.int8), "1", "regime"),
    }
    n_s = 5
    order = np.argsort(pnl[0])
    sample = np.sort(order[:n_s] if sample_worst else order[-n_s:])  # the worst or the best paths
    spx = 4000 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_s, T + 1)), axis=1))
    data["sample_spx"] = _v(("sample", "day"), spx, "index points", "SPX")
    data["sample_vix"] = _v(("sample", "day"), rng.uniform(12, 40, (n_s, T + 1)), "VIX points", "VIX")
    data["sample_regime"] = _v(("sample", "day"), rng.integers(0, len(regime_names), (n_s, T + 1)), "1", "regime")
    data["sample_cum_pnl"] = _v(("strategy", "sample", "day"), np.cumsum(rng.normal(0, 300, (S, n_s, T + 1)), axis=2),
                                "USD", "cumulative P&L")
    keys = ["cost_median", "cost_share_1_2", "cvar99_annual", "cvar99_annual_reduction", "pnl_mean_annual"]
    units = ["% of capital per year", "1", "% of capital", "% of capital", "% of capital per year"]
    labels = ["Median net annual hedge cost", "Share of paths with cost in [1%, 2%]", "CVaR 99% of the annual loss",
              "CVaR 99% annual reduction (paired)", "Mean annual P&L"]
    if not metrics:
        keys, units, labels = keys[4:], units[4:], labels[4:]
    mv = rng.normal(1.5, 0.3, (S, len(keys)))
    mv[0, : len(keys) - 1] = np.nan if metrics else mv[0, : len(keys) - 1]
    if metrics:
        mv[0, 2] = 40.0  # unhedged CVaR 99 exists
        mv[:, 1] = rng.uniform(0.2, 0.6, S)  # a share, units "1"
    data["metric_value"] = _v(("strategy", "metric"), mv, "", "estimate")
    data["metric_se"] = _v(("strategy", "metric"), np.full_like(mv, 0.1), "", "standard error")
    data["metric_ci_low"] = _v(("strategy", "metric"), mv - 0.2, "", "95% CI low")
    data["metric_ci_high"] = _v(("strategy", "metric"), mv + 0.2, "", "95% CI high")
    claims = []
    verdicts = ["supported", "refuted", "not decidable"]
    for cid in (1, 2, 3, 4):
        for s in NAMES[1:]:
            for reg in (["all"] + (regime_names if regimes and cid < 4 else [])):
                claims.append((cid, f"claim {cid} text", s, reg, f"statistic {cid}", "% of capital per year",
                               1.5, 1.2, 1.8, "within [1, 2]", verdicts[len(claims) % 3], 50,
                               "note" if reg == "all" else f"regime {reg}"))
    cols = list(zip(*claims))
    for name, col in zip(["claim_id", "claim_text", "claim_strategy", "claim_regime", "claim_statistic", "claim_units",
                          "claim_value", "claim_ci_low", "claim_ci_high", "claim_threshold", "claim_verdict",
                          "claim_n", "claim_note"], cols):
        arr = np.array(col, dtype=np.int64 if name in ("claim_id", "claim_n") else
                       float if name in ("claim_value", "claim_ci_low", "claim_ci_high") else object)
        data[name] = _v("claim_row", arr, "1", name)
    data["calibration_value"] = xr.Variable("calibration_param", [0.1, 2.0], {"long_name": "fitted"})
    data["calibration_se"] = xr.Variable("calibration_param", [0.01, np.nan], {"long_name": "se"})
    data["history_statistic"] = xr.Variable("statistic", [18.0, 16.0], {"long_name": "history"})
    data["model_statistic"] = xr.Variable("statistic", [17.0, 15.5], {"long_name": "model"})
    coords = {
        "strategy": NAMES, "strategy_label": ("strategy", LABELS), "strategy_kind": ("strategy", KINDS),
        "strategy_budget": ("strategy", BUDGETS), "path": np.arange(N), "layer": [1, 2], "leg": LEGS,
        "sample": sample, "day": np.arange(T + 1), "time": ("day", np.arange(T + 1) / 252),
        "metric": keys, "metric_units": ("metric", units), "metric_label": ("metric", labels),
        "claim_row": np.arange(len(claims)), "calibration_param": ["kappa", "theta"],
        "statistic": ["vix_mean", "vix_q50"],
    }
    attrs = {
        "title": "ALVH stress test: synthetic", "scenario": "synthetic", "scenario_text": 'name = "synthetic"',
        "seed": 7, "n_paths": N, "chunk_size": N, "jobs": 1, "horizon_years": YEARS, "n_steps": T,
        "capital_usd": CAPITAL, "capital_definitions_json": json.dumps(["Capital base: $100,000."]),
        "spx_surface": "ssvi", "model_type": "heston", "regime_names": json.dumps(regime_names),
        "package_versions_json": json.dumps({"python": "3.x", "numpy": np.__version__}),
        "calibration_window": "2010-2020", "calibration_method": "MLE", "calibration_summary": "summary text",
        "main_hedge": "alvh",
        "strategy_rules_json": json.dumps({"alvh": ["Layer 1 enters first.", "Budget 1.5% a year."],
                                           "vix_ladder": ["Buys VIX calls monthly."]}),
        "elapsed_s": 1.5, "created": "2024-01-01T00:00:00+00:00", "command": "alvh run synthetic",
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    if replay:
        years = [2014, 2015, 2016, 2017, 2018]
        days = pd.bdate_range("2014-01-02", "2018-12-31")
        ds["replay_pnl_pct"] = _v(("strategy", "replay_year"), rng.normal(2, 5, (S, len(years))), "% of capital",
                                  "calendar-year P&L")
        rc = np.abs(rng.normal(1.5, 0.5, (S, len(years))))
        rc[0] = 0.0
        ds["replay_hedge_cost_pct"] = _v(("strategy", "replay_year"), rc, "% of capital", "calendar-year hedge cost")
        ds["replay_spx"] = _v("replay_day", 2000 + np.arange(days.size) * 0.5, "index points", "SPX")
        ds["replay_vix"] = _v("replay_day", rng.uniform(10, 40, days.size), "VIX points", "VIX")
        ds["replay_cum_pnl"] = _v(("strategy", "replay_day"), np.cumsum(rng.normal(0, 100, (S, days.size)), axis=1),
                                  "USD", "cumulative P&L")
        ds = ds.assign_coords(replay_year=years, replay_day=[d.strftime("%Y-%m-%d") for d in days])
        ds.attrs["replay_detail_json"] = json.dumps({
            "date": "2018-02-05", "spx_return_pct": -4.1, "vix_prev": 17.31, "vix": 37.32,
            "pnl_pct": {n: float(x) for n, x in zip(NAMES, [-12.0, -6.5, -9.0, -10.5])},
            "layer_pnl_pct": {"unhedged": [0.0, 0.0], "alvh": [3.0, 2.5], "vix_ladder": [3.0, 0.0],
                              "alvh_budget_0.5": [1.0, 0.5]},
            "condor_leg_pnl_pct": [1.0, -14.0, 1.5, -0.5]})
    return ds


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The full Dataset after a netCDF round trip (as the report reads results.nc), and its report."""
    out = tmp_path_factory.mktemp("full")
    make_ds().to_netcdf(out / "results.nc", engine="h5netcdf")
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    render_report(ds, out / "report.html")
    return ds, out, (out / "report.html").read_text(encoding="utf-8")


def _positions(html: str, headings: list[str]) -> list[int]:
    """Where each heading is among the page's sections: the answers' <h2>, then the collapsed
    <details> by their <summary>."""
    h2 = re.findall(r"<h2>(.*?)</h2>|<summary>(.*?)</summary>", html)
    h2 = [a or b for a, b in h2]
    pos = []
    for name in headings:
        hits = [i for i, h in enumerate(h2) if name in h]
        assert hits, f"section {name!r} missing; have {h2}"
        pos.append(hits[0])
    return pos


def test_report_has_every_section_in_order(full):
    _, _, html = full
    pos = _positions(html, SECTIONS)
    assert pos == sorted(pos)


def test_report_is_self_contained(full):
    _, _, html = full
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    assert refs, "expected inlined images"
    assert all(r.startswith("data:") for r in refs), [r[:40] for r in refs if not r.startswith("data:")]
    assert "url(" not in html and "<link" not in html and "<script" not in html
    # the answer figure, fan, P&L, cost, CVaR, attribution, sweep, replay distribution, replay cumulative
    assert html.count("data:image/png;base64,") == 9


def test_report_content(full):
    ds, _, html = full
    for v in ("supported", "refuted", "not decidable"):
        assert v in html
    assert 'class="v-refuted"' in html and 'class="v-not-decidable"' in html
    # the answers: one sentence per claim on the main hedge (regime "all"), its verdict, value and CI
    answers = html[html.index('<section id="answers">'):html.index("</section>")]
    claims = ds[[v for v in ds.data_vars if str(v).startswith("claim_")]].to_dataframe()
    mine = claims[(claims["claim_strategy"] == "alvh") & (claims["claim_regime"] == "all")]
    assert len(mine) == 4 and answers.count('<li class="answer') == 4
    for _, r in mine.iterrows():
        sentence = re.search(rf"Claim {r['claim_id']}, “claim {r['claim_id']} text”: ([A-Z ]+)\. (.*?)</li>",
                             answers).groups()
        assert sentence[0] == r["claim_verdict"].upper()
        assert f"(95% CI {r['claim_ci_low']:.3f} to {r['claim_ci_high']:.3f})" in sentence[1]
        assert ("not decidable: its 95% CI straddles the threshold" in sentence[1]) == \
            (r["claim_verdict"] == "not decidable")
    assert 'id="fig-answer"' in answers
    # the claim check: one row per strategy other than the sweep, and regime
    grid = html[html.index('<details id="claims">'):html.index('<details id="sweep">')]
    n_rows = len(claims[claims["claim_strategy"] != "alvh_budget_0.5"][["claim_strategy", "claim_regime"]]
                 .drop_duplicates())
    assert grid.count("<tr>") == 1 + n_rows
    # claim 1 sentence with the sweep
    assert "Across 2 budgets" in html and "0.50" in html
    # worst paths: not among the samples here
    assert "None of the 20 worst paths" in html
    # replay detail and rules, calibration, versions
    assert "2018-02-05" in html and "17.31" in html and "37.32" in html and "-4.10%" in html
    assert "Layer 1 enters first." in html and "kappa" in html and "VIX mean" in html and "numpy" in html
    assert "calm, crisis" in html


def test_report_shows_the_scorecard_rows_the_model_fails(tmp_path):
    """The run's realism scorecard (attrs["scorecard_json"], written by alvh.pipeline.analyse_run): the
    pass count and a table of exactly the failed rows; without it, one sentence."""
    import json

    rows = [{"model": "m", "side": "P", "statistic": "vix_max_rise", "bucket": "all", "real": 24.86,
             "simulated": 6.8, "simulated_se": 0.1, "band_low": 5.3, "band_high": 7.9, "pass": False},
            {"model": "m", "side": "Q", "statistic": "futures_M1", "bucket": "13-16", "real": 15.4,
             "simulated": 15.3, "simulated_se": 0.0, "band_low": 14.4, "band_high": 16.4, "pass": True},
            {"model": "m", "side": "Q", "statistic": "vvix", "bucket": ">30", "real": 107.8,
             "simulated": 80.5, "simulated_se": 0.0, "band_low": 95.8, "band_high": 119.8, "pass": False}]
    ds = make_ds()
    ds.attrs["scorecard_json"] = json.dumps(rows)
    render_report(ds, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index("<summary>Realism scorecard</summary>"):html.index("<summary>Fit diagnostics")]
    assert "It passes <b>1 of 3</b>" in section and "1 rows on simulated" in section
    assert "vix_max_rise" in section and "vvix" in section and "futures_M1" not in section
    assert section.count("<tr>") == 3          # header + the two failed rows
    del ds.attrs["scorecard_json"]
    render_report(ds, tmp_path / "r2.html")
    assert "No realism scorecard in this result." in (tmp_path / "r2.html").read_text(encoding="utf-8")


def test_report_without_optional_parts(tmp_path):
    ds = make_ds(replay=False, regimes=False, metrics=False)
    ds = ds.isel(strategy=[0, 1, 2])  # no sweep
    render_report(ds, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    _positions(html, SECTIONS)
    assert "This run has no historical replay." in html
    assert "single regime" in html
    assert "No budget sweep was run" in html
    assert "n/a" in html  # headline metrics absent
    assert html.count("data:image/png;base64,") == 5
    text = summary_text(ds)
    assert "n/a" in text and "Claim check, condor + ALVH:" in text
    assert any(v in text for v in ("SUPPORTED", "REFUTED", "NOT DECIDABLE"))


def test_worst_paths_among_samples_are_plotted(tmp_path):
    ds = make_ds(replay=False, sample_worst=True)
    render_report(ds, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "5 of them are among the 5 stored sample paths" in html
    assert "Cumulative P&amp;L of the worst paths" in html


def test_tables_and_summary_after_netcdf_round_trip(tmp_path):
    ds = make_ds()
    ds.to_netcdf(tmp_path / "r.nc", engine="h5netcdf")
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf") as back:
        paths = write_tables(back, tmp_path / "tables")
        text = summary_text(back)
    assert "Claim check, condor + ALVH:" in text
    assert len(paths) == 5
    assert pd.read_csv(paths[1]).equals(pd.read_csv(write_tables(ds, tmp_path / "mem")[1]))


def test_tables(tmp_path):
    ds = make_ds()
    paths = write_tables(ds, tmp_path / "t")
    assert [p.name for p in paths] == ["metrics.csv", "claims.csv", "worst_paths.csv", "budget_sweep.csv",
                                       "replay_by_year.csv"]
    m = pd.read_csv(paths[0])
    assert list(m.columns) == ["strategy", "key", "label", "units", "value", "se", "ci_low", "ci_high"]
    finite = np.isfinite(ds["metric_value"].values).sum()
    assert len(m) == finite
    row = m[(m.strategy == "alvh") & (m.key == "cost_median")].iloc[0]
    assert row.value == pytest.approx(float(ds["metric_value"].sel(strategy="alvh", metric="cost_median")))
    assert row.units == "% of capital per year"
    c = pd.read_csv(paths[1])
    assert len(c) == ds.sizes["claim_row"]
    assert {"claim_row", "claim_id", "claim_text", "claim_strategy", "claim_regime", "claim_statistic", "claim_units",
            "claim_value", "claim_ci_low", "claim_ci_high", "claim_threshold", "claim_verdict", "claim_n",
            "claim_note"} == set(c.columns)
    assert set(c.claim_verdict) == {"supported", "refuted", "not decidable"}
    w = pd.read_csv(paths[2])
    assert len(w) == 20
    ann = ds["pnl"].sel(strategy="unhedged").values / CAPITAL * 100 / YEARS
    assert w["pnl_unhedged_pct_per_year"].tolist() == pytest.approx(np.sort(ann)[:20].tolist())
    assert w["pnl_unhedged_pct_per_year"].is_monotonic_increasing
    for s in NAMES[1:]:
        assert f"pnl_{s}_pct_per_year" in w and f"hedge_cost_{s}_pct_per_year" in w
    assert {"path", "spx_return_pct", "vix_max_points", "regime_worst_day", "n_stops"} <= set(w.columns)
    assert set(w.regime_worst_day) <= {"calm", "crisis"}
    b = pd.read_csv(paths[3])
    assert b.strategy.tolist() == ["alvh_budget_0.5", "alvh"]
    assert b.budget_pct_per_year.tolist() == [0.5, 1.5]
    assert {"cost_median", "cost_median_ci_low", "cost_median_ci_high"} <= set(b.columns)
    r = pd.read_csv(paths[4])
    assert len(r) == 4 * 5 and set(r.year) == {2014, 2015, 2016, 2017, 2018}
    assert {"strategy", "year", "pnl_pct", "hedge_cost_pct", "mc_share_pnl_below"} <= set(r.columns)


def test_tables_without_replay_or_sweep(tmp_path):
    ds = make_ds(replay=False).isel(strategy=[0, 1, 2])
    paths = write_tables(ds, tmp_path)
    assert [p.name for p in paths] == ["metrics.csv", "claims.csv", "worst_paths.csv", "budget_sweep.csv"]
    b = pd.read_csv(paths[3])
    assert b.strategy.tolist() == ["alvh"]


def test_summary_text_has_the_main_hedges_verdicts(tmp_path):
    ds = make_ds()
    text = summary_text(ds, tmp_path)
    rows = ds["claim_strategy"].values == "alvh"
    for v in set(ds["claim_verdict"].values[rows]):
        assert v.upper() in text
    assert text.count("claim ") == rows.sum()
    assert "Median annual net hedge cost" in text and "CVaR 99% of the annual loss" in text
    assert str(tmp_path / "report.html") in text


def test_format_metric():
    assert format_metric(1.23456, 0.1, 1.0, 1.5) == ("1.235", "[1.000, 1.500]", "0.100")
    assert format_metric(float("nan"), float("nan"), float("nan"), float("nan")) == ("n/a", "[n/a, n/a]", "n/a")


def test_an_answer_says_why_its_verdict_is_not_the_models(tmp_path):
    """With verdicts across sources, the answer's verdict is their headline; when it differs from the
    model's own verdict the sentence says why (no counted source, or sources that disagree), and a
    model row that is not decidable says why (too few qualifying paths, else the CI straddling)."""
    from alvh.report.answers import _why, claim_answers

    ds = make_ds()
    claims = ds[[v for v in ds.data_vars if str(v).startswith("claim_")]].to_dataframe()
    mine = claims[(claims["claim_strategy"] == "alvh") & (claims["claim_regime"] == "all")]
    heads = [{"strategy": "alvh", "claim": int(r["claim_id"]), "headline": "not decidable",
              "sources": [{"source": "m", "verdict": r["claim_verdict"], "counted": False}]}
             for _, r in mine.iterrows()]
    ds.attrs["verdicts_json"] = json.dumps({"model": "m", "acceptance_fails": ["a", "b"], "headlines": heads})
    answers = claim_answers(ds)
    assert [a["verdict"] for a in answers] == ["not decidable"] * 4
    for a, (_, r) in zip(answers, mine.iterrows()):
        differs = r["claim_verdict"] != "not decidable"
        assert ("No source is counted (the model fails 2 of the scorecard's acceptance rows)" in a["sentence"]) \
            == differs
        assert f"Sources: m {r['claim_verdict']} (not counted)." in a["sentence"]
    assert _why("only 5 qualifying path-days (< min_n = 30); crash days: ...") == \
        "only 5 qualifying path-days (< min_n = 30)"
    assert _why("crash days: unhedged day P&L <= -40% of capital (61 path-days); ...") == \
        "its 95% CI straddles the threshold"
