"""The hedge-design frontier (issue 24): the search, its resume, the design-to-scenario mapping, the
metrics, the multiple-comparison correction, the disjoint confirmation seed and the command's refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from alvh import frontier as fr
from alvh.frontierrun import FrontierSettings, _holm, replay_metrics


def _pinned(scenario, **free):
    """The default space with every dimension pinned (to its low bound or first choice) except ``free``."""
    space = fr.default_space(scenario)
    over = {n: (d.choices[0] if d.kind == "choice" else d.low) for n, d in space.items()}
    over.update(instrument_2="none", exit_multiple=2.0)
    over.update(free)
    return fr.parse_space(over, scenario)


def _synthetic(p):
    """A closed-form objective: cost = the budget; cut = sqrt(budget) - 10 (delta - 0.3)^2, so within a
    budget B the best design is budget B at delta 0.3, with cut sqrt(B)."""
    b, d = float(p["budget_pct_per_year"]), float(p["strike_delta"])
    return {"cost": b, "cut": math.sqrt(b) - 10.0 * (d - 0.3) ** 2}


def test_the_optimiser_finds_the_known_best_design_of_a_synthetic_space(tiny_scenario):
    space = _pinned(tiny_scenario, budget_pct_per_year=[0.25, 4.0], strike_delta=[0.05, 0.5])
    trials = fr.search(_synthetic, space, 150, seed=3, n_startup=10)
    assert len(trials) == 150
    best = fr.best_per_budget(trials, [1.0, 2.0])
    for b, t in best.items():
        # the optimum is sqrt(b) at delta 0.3; within 5% of it, and the design near that delta
        assert t.values[0] <= b and t.values[1] > 0.95 * math.sqrt(b), (b, t.values, t.params)
        assert abs(t.params["strike_delta"] - 0.3) < 0.07
        assert t.values[1] == max(x.values[1] for x in trials if x.values[0] <= b)


def test_a_killed_search_resumes_to_the_designs_an_uninterrupted_one_proposes(tiny_scenario, tmp_path):
    space = _pinned(tiny_scenario, budget_pct_per_year=[0.25, 4.0], strike_delta=[0.05, 0.5])
    whole = fr.search(_synthetic, space, 8, seed=11, journal=tmp_path / "a.journal", n_startup=3)
    calls = []

    def dies_on_the_fifth(p):
        calls.append(p)
        if len(calls) == 5:
            raise KeyboardInterrupt          # killed mid-design: the trial stays RUNNING in the journal
        return _synthetic(p)

    with pytest.raises(KeyboardInterrupt):
        fr.search(dies_on_the_fifth, space, 8, seed=11, journal=tmp_path / "b.journal", n_startup=3)
    resumed = fr.search(_synthetic, space, 8, seed=11, journal=tmp_path / "b.journal", n_startup=3)
    assert [t.params for t in resumed] == [t.params for t in whole]
    assert [t.values for t in resumed] == [t.values for t in whole]
    assert resumed[4].params == calls[4], "the interrupted design is proposed again"
    assert [t.number for t in resumed] != [t.number for t in whole]      # optuna counts the killed trial
    n_r, n_w = fr.design_numbers(resumed), fr.design_numbers(whole)
    assert ({b: n_r[t.number] for b, t in fr.best_per_budget(resumed, [1.0, 3.0]).items()}
            == {b: n_w[t.number] for b, t in fr.best_per_budget(whole, [1.0, 3.0]).items()})


def test_a_design_that_fails_is_kept_counted_and_passed_over(tiny_scenario):
    space = _pinned(tiny_scenario, budget_pct_per_year=[0.25, 4.0], strike_delta=[0.05, 0.5])
    calls = []

    def third_fails(p):
        calls.append(p)
        if len(calls) == 3:
            raise ValueError("non-finite P&L on path 7")
        return _synthetic(p)

    got = fr.search(third_fails, space, 6, seed=2, n_startup=3)
    assert len(got) == 6 and len(calls) == 6
    assert got[2].values is None and "non-finite" in got[2].user_attrs["error"]
    assert all(t is not got[2] for t in fr.best_per_budget(got, [0.5, 4.0]).values())


def test_only_a_counted_model_makes_a_design_robust():
    from alvh.frontierrun import _finish
    from alvh.verdicts import REPLAY

    trials = pd.DataFrame({"trial": [0], "cost": [1.0], "cut": [2.0], "description": ["d"]})
    rows = pd.DataFrame([{"kind": "design", "name": "design 0", "budget": 1.0, "trial": 0, "source": s,
                          "counted": c, "cost": 1.0, "cut": 2.0, "cut_ci_low": 1.0, "cut_ci_high": 3.0}
                         for s, c in (("heston", False), (REPLAY, True))])
    best = {1.0: object()}
    only_replay = [{"source": "heston", "counted": False, "note": ""}, {"source": REPLAY, "counted": True, "note": ""}]
    assert not _finish(rows.copy(), best, trials, only_replay, "heston")["robust"].any()
    both = [{"source": "heston", "counted": True, "note": ""}, {"source": REPLAY, "counted": True, "note": ""}]
    t = _finish(rows.assign(counted=True), best, trials, both, "heston")
    assert t["robust"].all()
    assert t.loc[t["source"] == REPLAY, "optimism"].isna().all() and (t.loc[t["source"] == "heston", "optimism"] == 0).all()


def test_bad_space_budgets_trials_and_seeds_are_refused(tiny_scenario):
    for over, msg in (({"no_such_key": [1, 2]}, "does not exist"), ({"short_delta": [0.3, 0.1]}, "inverted"),
                      ({"instrument": []}, "empty"), ({"trigger": ["sometimes"]}, "not one of"),
                      ({"short_delta": [0.1, 0.6]}, "limits"), ({"exit_multiple": [0.5, 2]}, "1.01"),
                      ({"dte_open": [float("nan"), 30]}, "finite")):
        with pytest.raises(fr.FrontierError, match=msg):
            fr.parse_space(over, tiny_scenario)
    ok = dict(budgets=(1.0,), n_trials=5, n_paths=10, seed=1, confirm_seed=2, confirm_paths=10, models=("heston",))
    for change, msg in (({"budgets": (0.0,)}, "> 0"), ({"budgets": (math.inf,)}, "finite"), ({"budgets": ()}, "at least"),
                        ({"n_trials": 0}, "trials"), ({"confirm_seed": 1}, "never saw"), ({"n_paths": 1}, "paths")):
        with pytest.raises(fr.FrontierError, match=msg):
            FrontierSettings(**{**ok, **change}).check()
    FrontierSettings(**ok).check()


def test_design_metrics_against_sorted_tails():
    """Cost and cut by hand: the mean P&L given up, and CVaR 99 as the mean of the worst 1% of losses."""
    rng = np.random.default_rng(5)
    n, cap = 4000, 1e6
    ref = {"pnl": rng.standard_t(3, n) * 2e4, "worst_day": -np.abs(rng.normal(size=n)) * 1e4,
           "max_drawdown": np.abs(rng.normal(size=n)) * 3e4}
    des = {"pnl": ref["pnl"] * 0.5 - 3e3, "worst_day": ref["worst_day"] * 0.5, "max_drawdown": ref["max_drawdown"]}
    m = fr.design_metrics(ref, des, cap, years=0.5)
    tail = lambda loss: np.sort(loss)[::-1][: n // 100].mean()  # noqa: E731
    assert m["cost"] == pytest.approx(np.mean(ref["pnl"] - des["pnl"]) * 100 / cap / 0.5, rel=1e-12)
    assert m["cut"] == pytest.approx(tail(-100 * ref["pnl"] / cap) - tail(-100 * des["pnl"] / cap), rel=1e-9)
    assert m["cut"] > 0 and m["worst_day_cut"] > 0 and m["drawdown_cut"] == 0.0
    same = fr.design_metrics(ref, ref, cap, 1.0)
    assert same["cost"] == 0.0 and same["cut"] == 0.0


def test_the_pareto_front_of_a_hand_made_set():
    """(cost, cut): (2, 1) is beaten by (1, 1), (3, 1.5) by (2, 2); two equal designs do not beat each other."""
    cost = [1.0, 2.0, 2.0, 0.5, 3.0, 1.0, math.nan]
    cut = [1.0, 2.0, 1.0, 0.2, 1.5, 1.0, 9.0]
    assert fr.pareto_front(cost, cut).tolist() == [True, True, False, True, False, True, False]


def test_the_widest_preparation_takes_a_2024_spot(tiny_scenario):
    """The widest design (for the VIX table and the SPX surface) is a valid scenario at the 2024 close
    (an SPX put's short strike at half the spot is a spread of about 2,900 points)."""
    sc = fr.widest_scenario(tiny_scenario, fr.default_space(tiny_scenario), s0=5881.63)
    wide = [h for h in sc.hedges if h.name == "design_widest"][0]
    assert max(ly.dte_open for ly in wide.layers) == 120.0 and wide.layers[1].spread_width == 2940.0


def test_the_docs_list_the_design_space_of_the_code():
    """docs/pages/frontier.md holds alvh.frontier.space_reference() between its space-table markers
    (regenerate with ``python -c "from alvh.frontier import space_reference as r; print(r())"``)."""
    from pathlib import Path

    page = (Path(__file__).parent.parent / "docs" / "pages" / "frontier.md").read_text()
    table = page.split("<!-- space-table -->\n")[1].split("<!-- /space-table -->")[0]
    assert table == fr.space_reference()


def test_holm_adjustment_by_hand():
    """Holm (1979): sorted p-values times (m, m-1, ...), made monotone: 0.01, 0.03, 0.04 -> 0.03, 0.06, 0.06."""
    t = pd.DataFrame({"kind": ["design"] * 4 + ["reference"], "trial": [1, 2, 3, 1, -1],
                      "source": ["m", "m", "m", "m", "m"], "vs_alvh_p": [0.01, 0.04, 0.03, 0.01, math.nan]})
    got = _holm(t)
    assert got.iloc[:4].tolist() == pytest.approx([0.03, 0.06, 0.06, 0.03])   # trial 1 twice (two budgets): one test
    assert math.isnan(got.iloc[4])


def test_replay_metrics_cost_and_cut_by_hand():
    rng = np.random.default_rng(2)
    ref = rng.standard_t(3, 2000) * 5e3
    des = ref + np.where(ref < np.quantile(ref, 0.02), 4e3, -50.0)      # pays 50 a day, gives back in the tail
    r = replay_metrics(ref, des, 1e6, seed=1, alvh_daily=ref)
    assert r["cost"] == pytest.approx(252 * np.mean(ref - des) * 100 / 1e6, rel=1e-12)
    tail = lambda x: np.sort(x)[::-1][:20].mean()  # noqa: E731
    assert r["cut"] == pytest.approx(tail(-ref * 1e-4) - tail(-des * 1e-4), rel=1e-9)
    assert r["cut_ci_low"] < r["cut"] < r["cut_ci_high"] and r["cut_ci_low"] > 0
    assert r["vs_alvh"] == pytest.approx(r["cut"], rel=1e-12)


def test_a_design_at_the_put_spread_baseline_reproduces_it_path_by_path(tiny_scenario):
    """The SPX put spread baseline is a point of the space: its design, run alone, gives the baseline's
    own P&L on every path (a wrong width, roll or strike in the mapping would not)."""
    from alvh import runner
    from alvh.frontierrun import _arrays, _reference_scenario

    prep = runner.prepare(tiny_scenario, 7, cache=True)
    s0 = prep.s0
    space = fr.default_space(tiny_scenario)
    p = {n: (d.choices[0] if d.kind == "choice" else d.low) for n, d in space.items()}
    p.update(instrument="spx_put_spread", instrument_2="none", strike_rule="delta", strike_delta=0.25,
             spx_spread_width=100.0 / s0, dte_open=45.0, roll_share=21.0 / 45.0, trigger="always",
             budget_pct_per_year=1.5, exit_multiple=0.0, short_delta=0.15, wing_width=50.0, stop_multiple=2.0)
    sc = fr.design_scenario(tiny_scenario, p, s0)
    (h,) = sc.hedges
    assert h.layers[0].spread_width == 100.0 and h.layers[0].instrument == "spx_put_spread"
    ref_sc = _reference_scenario(tiny_scenario)
    names = [x.name for x in ref_sc.hedges]
    ref = _arrays(prep, ref_sc, 96, 7, 1)
    des = _arrays(prep, sc, 96, 7, 1)
    base = ref[1 + names.index("spx_put_spread")]
    np.testing.assert_allclose(des[0]["pnl"], ref[0]["pnl"], rtol=1e-9, atol=1e-6)    # the same condor alone
    np.testing.assert_allclose(des[1]["pnl"], base["pnl"], rtol=1e-9, atol=1e-6)
    assert "SPX put spreads" in fr.describe(p)


@pytest.mark.slow
def test_the_confirmation_runs_on_seeds_the_search_never_used(tiny_scenario, monkeypatch):
    _small_frontier(tiny_scenario, monkeypatch)


def _small_frontier(tiny_scenario, monkeypatch):
    from alvh import frontierrun

    seen = []
    real = frontierrun._arrays
    # patched where _run reads it (alvh.frontierrun.run)
    monkeypatch.setattr(frontierrun.run, "_arrays", lambda prep, sc, n, seed, jobs: seen.append((sc.name, n, seed))
                        or real(prep, sc, n, seed, jobs))
    space = _pinned(tiny_scenario, budget_pct_per_year=[0.5, 3.0], instrument=["call", "future"])
    st = FrontierSettings(budgets=(1.0, 3.0), n_trials=2, n_paths=32, seed=5, confirm_seed=6, confirm_paths=40,
                          models=("heston",), all_models=True, replay=False, space=space)
    res = frontierrun.run_frontier(tiny_scenario, None, st, progress=False)
    search = [s for s in seen if s[1] == 32]
    confirm = [s for s in seen if s[1] == 40]
    assert search and confirm and {s[2] for s in search} == {5} and {s[2] for s in confirm} == {6}
    assert set(res.table["source"]) <= {"heston", ""} and len(res.trials) == 2
    assert res.dataset.sizes["trial"] == 2 and res.dataset.sizes["budget"] == 2
    return res


@pytest.mark.slow
def test_a_run_names_its_frontier_line_on_claims_1_and_4(tiny_scenario, tmp_path, monkeypatch):
    """[analysis] frontier = "frontier.nc": the run's summary carries the frontier's claim line; a file
    that is not a frontier is refused when the scenario is read (exit 2 in the CLI)."""
    import alvh
    from alvh.config import ConfigError, frontier_claim_line, load_scenario
    from alvh.results import write_dataset

    from alvh.frontierreport import netcdf_ready

    res = _small_frontier(tiny_scenario, monkeypatch)
    write_dataset(netcdf_ready(res.dataset), tmp_path / "frontier.nc")
    line = frontier_claim_line(tmp_path / "frontier.nc")
    assert line.startswith("Claims 1 and 4:") and "ALVH" in line
    text = tiny_scenario.text + '\n[analysis]\nfrontier = "frontier.nc"\n'
    (tmp_path / "s.toml").write_text(text)
    r = alvh.run(load_scenario(tmp_path / "s.toml"), n_paths=64, seed=3)
    assert line in " ".join(r.summary().split())
    (tmp_path / "other.nc").write_bytes(b"not netcdf")
    (tmp_path / "bad.toml").write_text(text.replace("frontier.nc", "other.nc"))
    with pytest.raises(ConfigError, match="analysis.frontier"):
        load_scenario(tmp_path / "bad.toml")


@pytest.mark.slow
def test_the_command_writes_refuses_and_resumes(tmp_path):
    from conftest import TINY, alvh_cli, snapshot, widest_line

    out = tmp_path / "f"
    space = tmp_path / "space.toml"
    space.write_text('[space]\ninstrument = ["call", "spx_put_spread"]\ninstrument_2 = "none"\n')

    def cli(*args):
        return alvh_cli("frontier", TINY, "--paths", "32", "--models", "heston", "--all-models", "--space", space,
                        "--out", out, *args, cwd=tmp_path)

    ok = cli("--trials", "2", "--budgets", "1,2")
    assert ok.returncode == 0, ok.stderr
    assert widest_line(ok.stdout, tmp_path) <= 100 and "Claims 1 and 4" in ok.stdout
    import xarray as xr

    with xr.open_dataset(out / "frontier.nc") as ds:
        assert ds.sizes["trial"] == 2 and list(ds["budget"].values) == [1.0, 2.0]
        assert "real path, real VIX prices" in list(ds["source"].values)
        assert "param_instrument" in ds.coords
    table = pd.read_csv(out / "frontier.csv")
    assert {"design", "reference"} <= set(table["kind"]) and "image/png;base64" in (out / "frontier.html").read_text()
    first = json.loads((out / "settings.json").read_text())
    again = cli("--trials", "2")
    assert again.returncode == 2 and "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    more = cli("--trials", "3", "--resume")
    assert more.returncode == 0, more.stderr
    with xr.open_dataset(out / "frontier.nc") as ds:
        assert ds.sizes["trial"] == 3
    assert json.loads((out / "settings.json").read_text()) == first
    other = cli("--trials", "3", "--resume", "--seed", "99")
    assert other.returncode == 2 and "another seed" in other.stderr
    # bad input: one line, exit 2, before any work (nothing written)
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    for args, msg in ((("--budgets", "1,-1"), "> 0"), (("--budgets", "1,x"), "numbers"), (("--trials", "0"), "trials"),
                      (("--confirm-seed", "7"), "never saw"), (("--out", user), "notes.txt")):
        bad = alvh_cli("frontier", TINY, *args, cwd=tmp_path)
        assert bad.returncode == 2 and msg in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert snapshot(tmp_path) == before
    # a user's file under a name alvh uses is still the user's; optuna's lock left by a kill -9 is not
    (out / "study.journal.lock").symlink_to("nowhere")
    ok_lock = cli("--trials", "3", "--resume")
    assert ok_lock.returncode == 0, ok_lock.stderr
    assert not (out / "study.journal.lock").is_symlink(), "the stale optuna lock is removed (it would hang optuna)"
    marker = json.loads((out / ".alvh-output.json").read_text())    # as if alvh had not written the CSV yet
    marker["files"].remove("frontier.csv")
    (out / ".alvh-output.json").write_text(json.dumps(marker))
    (out / "frontier.csv").write_text("my notes")
    refused = cli("--trials", "3", "--resume")
    assert refused.returncode == 2 and "frontier.csv" in refused.stderr and (out / "frontier.csv").read_text() == "my notes"


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_frontier(tmp_path):
    """kill -9 while a design runs, then --resume: the same designs and the same confirmed table as a
    search never interrupted (the same seed)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import TINY, alvh_cli

    args = ["frontier", str(TINY), "--paths", "64", "--trials", "4", "--budgets", "1,3", "--models", "heston",
            "--all-models", "--no-replay"]
    whole = alvh_cli(*args, "--out", tmp_path / "whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "alvh.cli", *args, "--out", str(out)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    study = None
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if (out / "study.journal").exists():
            study = fr.open_study(out / "study.journal")
            if len([t for t in study.trials if t.state.name == "COMPLETE"]) >= 2:
                break
    assert proc.poll() is None, "the search ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "frontier.csv").exists()
    resumed = alvh_cli(*args, "--out", out, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a = pd.read_csv(tmp_path / "whole" / "frontier.csv")
    b = pd.read_csv(out / "frontier.csv")
    pd.testing.assert_frame_equal(a, b)
