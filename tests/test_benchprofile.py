"""alvh bench --profile (alvh.benchprofile): the rules that put a sampled stack in a part, a profile
whose parts add up to the profiled time, and the command (with its refusal to replace a file)."""

from __future__ import annotations

import json

import pytest

from alvh.benchprofile import PARTS, classify, profile_chunk


def _stack(*frames):
    """pyinstrument frame identifiers ``function\\x00file\\x00line`` from ``(function, file)`` pairs."""
    return ["MainThread\x00<thread>\x001"] + [f"{fn}\x00{f}\x0010" for fn, f in frames]


RUN = ("run", "/x/sim/runner.py")
BOOKS = ("run_books", "/x/sim/strategy.py")


@pytest.mark.parametrize("frames, part", [
    ((RUN, ("simulate", "/x/models/twofactor.py")), "generation"),
    ((RUN, ("simulate_with_overlays", "/x/sim/runner.py"), ("normal", "<built-in>")), "generation"),
    ((RUN, BOOKS, ("step", "/x/sim/strategy.py"), ("_measure", "/x/sim/strategy.py")), "deltas"),
    # a hedge layer's SPX option goes through the surface: it is the hedge's time
    ((RUN, BOOKS, ("step", "/x/sim/strategy.py"), ("spx_option", "/x/sim/surface.py")), "hedge layers"),
    ((RUN, BOOKS, ("_enter", "/x/sim/strategy.py"), ("call", "/x/sim/pricing.py")), "hedge layers"),
    ((RUN, ("run_books_compiled", "/x/sim/fastbook.py"), ("_kernel", "/x/sim/fastbook.py")), "compiled books"),
    ((RUN, BOOKS, ("spx_option", "/x/sim/surface.py"), ("implied_stdev", "/x/sim/surface.py")), "condor marks"),
    ((RUN, BOOKS, ("strike_for_delta", "/x/sim/strategy.py")), "condor marks"),
    ((("analyse", "/x/sim/results.py"), ("claim_check", "/x/sim/claims.py")), "metrics"),
    ((RUN, BOOKS, ("zeros", "<built-in>")), "bookkeeping"),
    # the books ask the model for its expected variance (SPX smile): pricing, not path generation
    ((RUN, BOOKS, ("_condor_value", "/x/sim/strategy.py"), ("atm_total_variance", "/x/models/regimes.py")),
     "condor marks"),
    ((RUN, BOOKS, ("step", "/x/sim/strategy.py"), ("var_from_vix", "/x/models/regimes.py")), "hedge layers"),
    # the same rules read the files of a module split into a subpackage (sim/strategy/hedge.py, ...)
    ((RUN, ("run_books", "/x/sim/strategy/books.py"), ("step", "/x/sim/strategy/hedge.py"),
      ("spx_option", "/x/sim/surface/greeks.py")), "hedge layers"),
    ((RUN, ("run_books_compiled", "/x/sim/fastbook/engine.py"), ("_kernel", "/x/sim/fastbook/kernel.py")),
     "compiled books"),
    ((RUN, ("run_books", "/x/sim/strategy/books.py"), ("implied_stdev", "/x/sim/surface/implied.py")),
     "condor marks"),
    ((("analyse", "/x/sim/results.py"), ("claim_check", "/x/sim/claims/checks.py")), "metrics"),
])
def test_each_rule_puts_a_stack_in_its_part(frames, part):
    assert classify(_stack(*frames)) == part
    assert part in PARTS


def test_a_profile_adds_up_to_its_wall_time_and_sees_the_books_and_the_metrics(tiny_prepared):
    prof = profile_chunk(tiny_prepared, 64, seed=3)
    total = sum(p["seconds"] for p in prof["parts"].values())
    # the samples cover the profiled block (a sample is the time since the previous one)
    assert 0.8 * prof["wall_s"] <= total <= 1.05 * prof["wall_s"]
    assert sum(p["share"] for p in prof["parts"].values()) == pytest.approx(1.0)
    assert prof["parts"]["metrics"]["samples"] > 0        # (generation of 64 short paths may take no sample)
    books = sum(prof["parts"][p]["samples"] for p in ("condor marks", "hedge layers", "deltas", "compiled books"))
    assert books > 0
    assert prof["n_paths"] == 64 and prof["top"] and {t["part"] for t in prof["top"]} <= set(PARTS)


@pytest.mark.slow
def test_the_command_prints_keeps_json_and_refuses_a_file_it_did_not_write(tmp_path):
    from conftest import TINY, alvh_cli

    def cli(*args):
        return alvh_cli("bench", "--profile", "--scenario", TINY, "--pipeline-paths", "32", *args, cwd=tmp_path)

    out = tmp_path / "profile.json"
    ok = cli("--json", out)
    assert ok.returncode == 0, ok.stderr
    from conftest import widest_line

    assert "hedge layers" in ok.stdout and widest_line(ok.stdout, tmp_path) <= 100
    assert "tests/data" not in ok.stdout.splitlines()[0], "the table names the scenario by file, not by its path"
    doc = json.loads(out.read_text())
    assert set(doc["profile"]["parts"]) == set(PARTS) and doc["settings"]["profile"] is True
    again = cli("--json", out)                  # its own bench JSON may be replaced
    assert again.returncode == 0, again.stderr
    mine = tmp_path / "notes.json"
    mine.write_text('{"my": "notes"}')
    refused = cli("--json", mine)
    assert refused.returncode == 2 and "notes.json" in refused.stderr and mine.read_text() == '{"my": "notes"}'
