"""``alvh bench --profile``: where one chunk of a scenario spends its time, by a sampling profiler.

One chunk (``chunk_size`` paths of the scenario, one worker, after an untimed warm-up chunk that
compiles the numba kernels) runs under pyinstrument's statistical profiler (a sample of the call
stack every ``interval`` seconds); the per-path analysis (metrics and claim check) follows under the
same profiler. Every sample is put in one part by the frames on its stack, the first rule that
matches from this list:

=================  ===========================================================================
part               a sample whose stack holds
=================  ===========================================================================
deltas             inside the books (``run_books``): ``_measure`` (the hedge books' deltas)
hedge layers       inside the books: a method of a hedge book (``_Hedge``: marks, entries,
                   strikes, sizing), with the pricing it calls
compiled books     inside the books: ``run_books_compiled`` (condor and hedges together)
condor marks       inside the books, otherwise: the SPX surface, Black-Scholes and the model's
                   expected variance (``alvh.surface``, ``alvh.pricing``, ``alvh.models``), the
                   condor's strikes
bookkeeping        inside the books, anything else (the books' own loops and arrays)
generation         outside the books: a frame of ``alvh.models`` or ``simulate_with_overlays``
                   (paths, variance jumps, the model VIX)
metrics            outside the books: ``alvh.results``, ``alvh.claims``, ``alvh.metrics``,
                   ``book_summaries``
bookkeeping        anything else (the chunk's summaries, the runner)
=================  ===========================================================================

The order matters: a hedge layer's SPX option is priced by the surface (and the model's expected
variance), and counts as a hedge layer; the model's pricing functions called by the books are not
path generation. A sample's time is the interval it stands for, so the parts add up to the profiled wall
time. Sampling error: a part with ``k`` samples is known to about ``sqrt(k)`` samples.
"""

from __future__ import annotations

import time

__all__ = ["PARTS", "classify", "profile_chunk", "format_profile"]

#: The parts of the breakdown, in the order of the table (module docstring).
PARTS = ("generation", "condor marks", "hedge layers", "deltas", "compiled books", "bookkeeping", "metrics")

_HEDGE_METHODS = {"step", "_enter", "value", "_vix_value", "strikes", "dvalue_dvix", "costs_for", "result"}


def _frames(stack):
    """``(function, file)`` of each frame identifier of a pyinstrument frame record, outermost first."""
    out = []
    for ident in stack:
        parts = ident.split("\x00")
        out.append((parts[0], parts[1] if len(parts) > 1 else ""))
    return out


def in_room(path: str, name: str) -> bool:
    """Whether the source file ``path`` is the module ``name`` ("/strategy.py") or a file of the
    subpackage of that name ("/strategy/...")."""
    return path.endswith(name) or f"{name[:-3]}/" in path


def classify(stack) -> str:
    """The part of :data:`PARTS` one sampled stack (pyinstrument frame identifiers) belongs to."""
    frames = _frames(stack)
    files = [f.replace("\\", "/") for _, f in frames]
    funcs = [fn for fn, _ in frames]

    def in_file(*names):     # "/strategy.py" also matches the files of a subpackage alvh/strategy/
        return any(in_room(f, n) for f in files for n in names)

    if "run_books" in funcs or "run_books_compiled" in funcs:     # the books (which call the models' pricing)
        if "_measure" in funcs or "condor_delta" in funcs:
            return "deltas"
        if any(fn in _HEDGE_METHODS and in_room(f, "/strategy.py") for fn, f in zip(funcs, files)):
            return "hedge layers"
        if "run_books_compiled" in funcs or in_file("/fastbook.py"):
            return "compiled books"
        if (in_file("/surface.py", "/pricing.py", "/fastprice.py") or any("/models/" in f for f in files)
                or {"strike_for_delta", "spx_option", "_condor_value"} & set(funcs)):
            return "condor marks"
        return "bookkeeping"
    if any("/models/" in f for f in files) or "simulate_with_overlays" in funcs:
        return "generation"
    if in_file("/results.py", "/claims.py", "/metrics.py", "/varred.py") or "book_summaries" in funcs:
        return "metrics"
    return "bookkeeping"


def profile_chunk(prepared, n_paths: int | None = None, seed: int = 20261121, interval: float = 0.001,
                  analyse: bool = True) -> dict:
    """Profile one chunk of a prepared scenario (module docstring).

    Parameters
    ----------
    prepared : alvh.runner.Prepared
    n_paths : int, optional
        Paths of the chunk (default the scenario's ``chunk_size``).
    seed : int
    interval : float, default 0.001
        Seconds between samples.
    analyse : bool, default True
        Also profile the metric table and the claim check of the chunk.

    Returns
    -------
    dict
        ``wall_s`` (profiled wall time, s), ``run_s`` (of it, the paths and the books, without the
        analysis), ``path_steps_per_s`` (``n_paths x n_steps / run_s``), ``samples``, ``interval_s``,
        ``n_paths``, ``n_steps``,
        ``parts`` (part -> ``{"seconds", "share", "samples"}``), ``top``
        (the 15 innermost functions with most time: ``function``, ``file``, ``seconds``, ``part``),
        ``engine`` (``"compiled"`` or ``"numpy"`` and why).

    Raises
    ------
    ImportError
        pyinstrument is not installed (the ``bench`` extra).
    """
    from pyinstrument import Profiler

    from alvh import fastbook, results, runner

    sc = prepared.scenario
    n = int(n_paths or sc.simulation["chunk_size"])
    runner.run(prepared, min(n, 8), seed, jobs=1, progress=False)   # numba compilation, not profiled
    hedges = tuple(sc.hedges)
    engine_ok, why = fastbook.supported(*_probe(prepared), prepared.surface, prepared.market, sc.condor, hedges,
                                        prepared.table, prepared.dt, _probe_regime(prepared))
    prof = Profiler(interval=interval)
    t0 = time.perf_counter()
    prof.start()
    res = runner.run(prepared, n, seed, jobs=1, progress=False)
    run_s = time.perf_counter() - t0
    if analyse:
        results.analyse(res)
    prof.stop()
    wall = time.perf_counter() - t0
    session = prof.last_session
    parts = {p: 0.0 for p in PARTS}
    counts = {p: 0 for p in PARTS}
    inner: dict[tuple[str, str], float] = {}
    inner_part: dict[tuple[str, str], str] = {}
    for stack, dt in session.frame_records:
        part = classify(stack)
        parts[part] += dt
        counts[part] += 1
        fn, f = _frames(stack)[-1] if stack else ("?", "")
        key = (fn, f)
        inner[key] = inner.get(key, 0.0) + dt
        inner_part.setdefault(key, part)
    total = sum(parts.values()) or 1.0
    top = sorted(inner.items(), key=lambda kv: -kv[1])[:15]
    return {
        "wall_s": wall, "samples": int(sum(counts.values())), "interval_s": interval, "n_paths": n,
        "n_steps": int(prepared.n_steps), "run_s": run_s, "path_steps_per_s": n * prepared.n_steps / run_s,
        "parts": {p: {"seconds": parts[p], "share": parts[p] / total, "samples": counts[p]} for p in PARTS},
        "top": [{"function": fn, "file": _short(f), "seconds": s, "part": inner_part[(fn, f)]}
                for (fn, f), s in top],
        "engine": "compiled" if engine_ok else f"numpy ({why})",
    }


def _probe(prepared):
    """Two-path, two-day arrays of the run's shapes, for :func:`alvh.fastbook.supported`."""
    import numpy as np

    z = np.ones((2, prepared.n_steps + 1))
    return z, z, z


def _probe_regime(prepared):
    import numpy as np

    return None if prepared.model.n_regimes == 1 else np.zeros((2, prepared.n_steps + 1), np.int8)


def _short(path: str) -> str:
    p = path.replace("\\", "/")
    for mark in ("/site-packages/", "/sim/", "/models/"):
        if mark in p:
            return ("models/" if mark == "/models/" else "" if mark == "/site-packages/" else "sim/") + p.split(mark)[-1]
    return p


def format_profile(prof: dict, scenario: str) -> str:
    """The breakdown as a table of at most 100 characters a line.

    The scenario is named by its file name (its full path is in the bench JSON), so the width does
    not depend on where the project lives.
    """
    name = scenario.replace("\\", "/").rsplit("/", 1)[-1]
    lines = [f"Profile of one chunk of {name}: {prof['n_paths']:,} paths x {prof['n_steps']} days, one worker, "
             f"{prof['wall_s']:.1f} s wall",
             f"({prof['path_steps_per_s'] / 1e6:.3f} M path-steps/s without the analysis; {prof['samples']:,} samples every "
             f"{prof['interval_s'] * 1e3:g} ms)",
             f"Engine: {prof['engine']}"[:100],
             f"{'part':<16} {'seconds':>9} {'share':>7} {'samples':>8}"]
    for p in PARTS:
        r = prof["parts"][p]
        lines.append(f"{p:<16} {r['seconds']:>9.2f} {100 * r['share']:>6.1f}% {r['samples']:>8,}")
    lines.append("Innermost functions with the most time:")
    for t in prof["top"][:10]:
        lines.append(f"  {t['seconds']:>7.2f} s  {(t['function'] + ' (' + t['file'] + ')')[:86]}")
    return "\n".join(lines)
