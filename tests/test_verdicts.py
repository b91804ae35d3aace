"""Verdicts across models (alvh.verdicts): the headline rule, the acceptance rows, claim 1 on the real
path against a hand computation, and the command on the tiny scenario."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alvh.claims import REFUTED, SUPPORTED, UNDECIDED, ClaimThresholds
from alvh.runner import ReplayResult
from alvh.verdicts import DEPENDS, REPLAY, acceptance_failures, headline, replay_claim1


def test_the_headline_is_a_verdict_only_when_every_counted_source_gives_it():
    assert headline([REFUTED, REFUTED]) == REFUTED
    assert headline([SUPPORTED]) == SUPPORTED
    assert headline([UNDECIDED, UNDECIDED]) == UNDECIDED
    assert headline([SUPPORTED, REFUTED]) == DEPENDS
    assert headline([REFUTED, UNDECIDED]) == DEPENDS
    assert headline([]) == UNDECIDED


def _card(fail=()):
    rows = []
    for stat in [f"futures_M{i}" for i in range(1, 8)] + ["vvix"]:
        for b in ("<=13", "13-16", "16-20", "20-30", ">30"):
            rows.append({"side": "Q", "statistic": stat, "bucket": b, "pass": f"{stat}[{b}]" not in fail})
    for stat in ("vix_max_rise", "share_vix_above_30", "spx_kurtosis"):
        rows.append({"side": "P", "statistic": stat, "bucket": "all", "pass": stat not in fail})
    return pd.DataFrame(rows)


def test_acceptance_rows_are_the_futures_and_vvix_up_to_30_and_the_two_spike_rows():
    assert acceptance_failures(_card()) == []
    # a >30 bucket and the SPX kurtosis are scorecard rows, not acceptance rows
    assert acceptance_failures(_card({"futures_M5[>30]", "spx_kurtosis"})) == []
    assert acceptance_failures(_card({"futures_M5[20-30]", "vix_max_rise"})) == ["futures_M5[20-30]", "vix_max_rise"]
    with pytest.raises(ValueError, match="acceptance"):
        acceptance_failures(_card().query("statistic != 'vvix'"))


def _replay(yearly_cost_pct, capital=1e6):
    """A replay whose hedge (strategy 1) loses the given % of capital in each year, spread evenly
    over the year's business days."""
    days = pd.bdate_range(f"{2010}-01-04", f"{2010 + len(yearly_cost_pct) - 1}-12-31")
    hedge = np.zeros((2, len(days)))
    for k, c in enumerate(yearly_cost_pct):
        sel = days.year == 2010 + k
        hedge[1, sel] = -c / 100.0 * capital / sel.sum()
    z = np.zeros(len(days))
    return ReplayResult(dates=days.values.astype("datetime64[D]"), spx=z + 1, vix=z + 1, daily_pnl=hedge,
                        hedge_pnl=hedge, layer_daily_pnl=np.zeros((2, 1, len(days))),
                        condor_leg_daily_pnl=np.zeros((4, len(days))), pricing_model="test")


def test_claim1_on_the_real_path_is_a_t_interval_over_complete_years():
    # yearly costs 1.0, 1.5, 2.0: mean 1.5, sd 0.5, se 0.5 / sqrt(3); t(0.975, 2) = 4.302653 (tables)
    c = replay_claim1(_replay([1.0, 1.5, 2.0]), 1, 1e6)
    half = 4.302653 * 0.5 / math.sqrt(3.0)
    assert c["n"] == 3 and c["value"] == pytest.approx(1.5)
    assert (c["ci_low"], c["ci_high"]) == pytest.approx((1.5 - half, 1.5 + half), abs=1e-5)
    assert c["verdict"] == UNDECIDED                      # the interval runs past both ends of [1, 2]
    tight = replay_claim1(_replay([1.4, 1.5, 1.6, 1.5, 1.45, 1.55]), 1, 1e6)
    assert tight["verdict"] == SUPPORTED
    cheap = replay_claim1(_replay([0.2, 0.25, 0.3, 0.22]), 1, 1e6)
    assert cheap["verdict"] == REFUTED and cheap["ci_high"] < 1.0
    # a wrong sign (a hedge that earns) is a negative cost
    assert replay_claim1(_replay([-0.5, -0.6]), 1, 1e6)["value"] == pytest.approx(-0.55)
    # a narrower band flips the verdict of the tight sample
    assert replay_claim1(_replay([1.4, 1.5, 1.6, 1.5, 1.45, 1.55]), 1, 1e6,
                         ClaimThresholds(cost_band=(1.0, 1.3)))["verdict"] == REFUTED


def test_a_partial_first_year_is_left_out():
    r = _replay([1.0, 1.5, 2.0])
    keep = pd.DatetimeIndex(r.dates) >= pd.Timestamp("2010-07-01")
    part = ReplayResult(r.dates[keep], r.spx[keep], r.vix[keep], r.daily_pnl[:, keep], r.hedge_pnl[:, keep],
                        r.layer_daily_pnl[:, :, keep], r.condor_leg_daily_pnl[:, keep], "test")
    c = replay_claim1(part, 1, 1e6)
    assert c["n"] == 2 and c["value"] == pytest.approx(1.75)


@pytest.mark.slow
def test_the_command_counts_models_by_the_scorecard_and_refuses_bad_input(tmp_path):
    from conftest import TINY, alvh_cli

    def cli(*args):
        return alvh_cli("verdicts", TINY, *args, cwd=tmp_path)

    out = tmp_path / "v.csv"
    ok = cli("--models", "heston", "--paths", "64", "--out", out)
    assert ok.returncode == 0, ok.stderr
    from conftest import widest_line

    assert widest_line(ok.stdout, tmp_path) <= 100
    t = pd.read_csv(out)
    # the tiny scenario's Heston fails the acceptance rows: not counted, not run; the real path decides claim 1
    assert "heston" not in set(t["source"]) and "Not counted: heston (fails" in ok.stdout
    alvh = t[t["strategy"] == "alvh"].set_index(["claim", "source"])
    assert alvh.loc[(1, "headline"), "verdict"] == alvh.loc[(1, REPLAY), "verdict"]
    assert alvh.loc[(4, "headline"), "verdict"] == UNDECIDED
    forced = cli("--models", "heston", "--paths", "64", "--all-models", "--out", tmp_path / "w.csv")
    assert forced.returncode == 0, forced.stderr
    w = pd.read_csv(tmp_path / "w.csv")
    a = w[w["strategy"] == "alvh"].set_index(["claim", "source"])
    for claim in (1, 2, 3, 4):
        votes = [a.loc[(claim, "heston"), "verdict"]] + ([a.loc[(1, REPLAY), "verdict"]] if claim == 1 else [])
        assert a.loc[(claim, "headline"), "verdict"] == headline(votes)
    for args, words in ((("--models", "hest"), "one of"), (("--out", out), "exists")):
        bad = cli(*args)
        assert bad.returncode == 2 and words in bad.stderr, (args, bad.stderr)


def test_a_run_with_a_replay_reports_its_headlines_across_sources(tiny_prepared):
    import dataclasses
    import json

    from alvh.pipeline import analyse_run
    from alvh.report import TERMINAL_WIDTH, summary_text

    sc = tiny_prepared.scenario
    sc = dataclasses.replace(sc, analysis={**sc.analysis, "replay": True})
    prep = dataclasses.replace(tiny_prepared, scenario=sc)
    ds = analyse_run(sc, prep, 64, 7)
    v = json.loads(ds.attrs["verdicts_json"])
    assert v["model"] == "heston" and v["acceptance_fails"]          # the tiny Heston fails them: not counted
    assert v["real"]["window"] == "2014-01-03 .. 2018-12-31"
    for h in v["headlines"]:
        votes = [s["verdict"] for s in h["sources"] if s["counted"]]
        assert h["headline"] == headline(votes)
        assert [s["source"] for s in h["sources"]][1:] == ([REPLAY] if h["claim"] == 1 else [])
    alvh = v["real"]["strategies"]["alvh"]
    assert alvh["n"] == 5 and alvh["ci_low"] <= alvh["value"] <= alvh["ci_high"]
    text = summary_text(ds)
    assert "Verdicts across sources" in text and "(no counted source)" in text
    assert max(len(line) for line in text.splitlines()) <= TERMINAL_WIDTH


@pytest.mark.slow
def test_the_report_shows_the_verdicts_across_sources_as_a_table(tiny_prepared, tmp_path):
    import dataclasses
    import json

    from alvh.pipeline import analyse_run
    from alvh.report import _verdicts_table, render_report

    sc = tiny_prepared.scenario
    sc = dataclasses.replace(sc, analysis={**sc.analysis, "replay": True})
    prep = dataclasses.replace(tiny_prepared, scenario=sc)
    ds = analyse_run(sc, prep, 64, 7)
    rows = _verdicts_table(ds)
    heads = json.loads(ds.attrs["verdicts_json"])["headlines"]
    assert len(rows) == len(heads) and {r["claim"] for r in rows} == {1, 2, 3, 4}
    # claim 1 carries the real path's number; the others have no real-path vote
    assert all(("% of capital per year" in r["real"]) == (r["claim"] == 1) for r in rows)
    assert all(r["model"].endswith("(not counted)") for r in rows)        # the tiny Heston fails the scorecard
    path = tmp_path / "report.html"
    render_report(ds, path)
    html = path.read_text()
    assert "Verdicts across sources" in html and html.count("real path, real VIX prices") >= 1
