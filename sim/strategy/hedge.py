"""One hedge book on a chunk of paths (:class:`_Hedge`): its layers' state, pricing, strikes, entries,
exits, rolls and deltas, day by day, vectorised over paths."""

from __future__ import annotations

import numpy as np
from scipy import special

from alvh.costs import VIX_FUTURE_MULTIPLIER
from alvh.pricing import spx_option, strike_for_delta
from alvh.strategy.results import HedgeResult, _charge, _daily_from_cumulative
from alvh.strategy.specs import BACKWARDATION_DTE, MULTIPLIER, SPX_MIN_STRIKE, TRIGGERS, HedgeSpec, dte_to_steps
from alvh.surface import implied_stdev


def _black76_call_delta(price, fwd, strike, tau, rate):
    """Black-76 call delta ``N(d1)`` on the future from a discounted call price (Black 1976,
    "The pricing of commodity contracts", J. Financial Economics 3, eq. for the call on a
    future); NaN where no implied volatility exists."""
    c = price * np.exp(rate * tau) / fwd
    k = np.log(strike / fwd)
    otm = np.where(k >= 0.0, c, c - 1.0 + np.exp(k))   # puts below the forward, by put-call parity
    s = implied_stdev(otm, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.ndtr(-k / s + 0.5 * s)


class _Hedge:
    """State and daily step of one hedge book (see :class:`HedgeSpec`)."""

    def __init__(self, spec: HedgeSpec, n: int, t_len: int, dt: float, table, ctx, trace: bool = False) -> None:
        self.spec, self.n, self.dt, self.table, self.ctx = spec, n, dt, table, ctx
        # a dated pricer (real prices of the market replay, alvh.realprices) gives each day its own view
        self._dated = table if hasattr(table, "on_day") else None
        L = len(spec.layers)
        spy = 1.0 / dt
        self.open_steps = [max(dte_to_steps(ly.dte_open, spy), 1) for ly in spec.layers]
        self.roll_steps = [dte_to_steps(ly.dte_roll, spy) for ly in spec.layers]
        for ly, o in zip(spec.layers, self.open_steps):
            if ly.trigger == "backwardation":
                o = max(o, dte_to_steps(BACKWARDATION_DTE[1], spy))
            if (not ly.on_spx or ly.trigger == "backwardation") and table is not None and o > table.max_steps:
                raise ValueError(f"VIX table covers {table.max_steps} steps, hedge '{spec.name}' needs {o}")
        for i, (o, r) in enumerate(zip(self.open_steps, self.roll_steps), 1):
            if not r < o:
                raise ValueError(f"hedge '{spec.name}' layer {i}: opening and roll DTE round to {o} and {r} trading "
                                 "steps; the roll must come at least one step after the entry")
        self.mult = [VIX_FUTURE_MULTIPLIER if ly.instrument == "future" else MULTIPLIER for ly in spec.layers]
        z = lambda: np.zeros((L, n))  # noqa: E731
        self.open = np.zeros((L, n), dtype=bool)
        self.k1, self.k2, self.qty, self.mark, self.entry, self.capital = z(), z(), z(), z(), z(), z()
        self.expiry = np.zeros((L, n), dtype=np.int64)
        self.layer_pnl, self.premium_by_layer = z(), z()
        self.n_entries = np.zeros((L, n), dtype=np.int64)
        self.n_cap = np.zeros((L, n), dtype=np.int64)
        self.pnl = np.zeros((n, t_len))
        self.delta = np.full((n, t_len), np.nan)
        self.payoff, self.spread, self.comm = np.zeros(n), np.zeros(n), np.zeros(n)
        self.active_days, self.peak = np.zeros(n), np.zeros(n)
        self.last_entry = np.full(n, -(10**9), dtype=np.int64)
        self.layer_daily = np.zeros((L, n, t_len)) if trace else None

    # ---- pricing of one layer's position per unit (points) and its legs
    def value(self, i, idx, rem, s, v, x, reg):
        ly = self.spec.layers[i]
        rem = np.maximum(rem, 0)
        if ly.on_spx:
            k = np.stack((self.k1[i, idx], self.k2[i, idx]))
            legs = np.maximum(k - s, 0.0)
            live = rem > 0
            if live.any():
                p, _ = spx_option(np.broadcast_to(s[live], (2, live.sum())), k[:, live], rem[live] * self.dt,
                                  np.broadcast_to(v[live], (2, live.sum())), False, self.ctx.surface,
                                  self.ctx.market.rate, self.ctx.market.div,
                                  None if reg is None else np.broadcast_to(reg[live], (2, live.sum())))
                legs[:, live] = p
            return legs[0] - legs[1], legs
        return self._vix_value(ly, x, rem, self.k1[i, idx], self.k2[i, idx], reg)

    def _vix_value(self, ly, x, rem, k1, k2, reg):
        tb = self.table
        if ly.instrument == "future":
            f = tb.futures(x, rem, reg)
            return f, f[None, :]
        c1 = tb.call(x, rem, tb.strike_index(k1), reg)
        if ly.instrument == "call":
            return c1, c1[None, :]
        c2 = tb.call(x, rem, tb.strike_index(k2), reg)
        val = c1 - c2
        return (-val if ly.is_short else val), np.stack((c1, c2))

    def costs_for(self, ly):
        fr = self.ctx.market.frictions
        return fr.spx_option if ly.on_spx else (fr.vix_future if ly.instrument == "future" else fr.vix_option)

    def dvalue_dvix(self, i, idx, rem, x, reg, h=0.5):
        """Sensitivity of one unit of a VIX layer to the spot VIX (points per VIX point), by a
        central difference on the pricing table."""
        ly = self.spec.layers[i]
        lo = np.maximum(x - h, 0.5)
        up, _ = self._vix_value(ly, x + h, np.maximum(rem, 0), self.k1[i, idx], self.k2[i, idx], reg)
        dn, _ = self._vix_value(ly, lo, np.maximum(rem, 0), self.k1[i, idx], self.k2[i, idx], reg)
        return (up - dn) / (x + h - lo)

    # ---- strikes at entry
    def strikes(self, i, idx, s, v, x, reg, cond):
        ly = self.spec.layers[i]
        steps = self.open_steps[i]
        m = self.ctx.market
        if ly.on_spx:
            tau = steps * self.dt
            if ly.strike_rule == "delta":
                k1 = strike_for_delta(s, tau, v, -ly.strike_delta, False, self.ctx.surface, m.rate, m.div, regime=reg)
            else:
                k1 = np.round(s * (1.0 - ly.strike_otm) / 5.0) * 5.0
            return k1, np.maximum(k1 - ly.spread_width, SPX_MIN_STRIKE), None
        tb = self.table
        fut = tb.futures(x, steps, reg)
        if ly.strike_rule == "delta":
            # bisection over the listed strikes: the call delta falls as the strike rises
            lo = np.zeros(idx.size, dtype=np.intp)
            hi = np.full(idx.size, tb.strikes.size - 1, dtype=np.intp)
            while np.any(hi - lo > 1):
                mid = (lo + hi) // 2
                k = tb.strikes[mid]
                d = _black76_call_delta(tb.call(x, steps, mid, reg), fut, k, steps * self.dt, m.rate)
                d = np.where(np.isfinite(d), d, np.where(k < fut, 1.0, 0.0))
                above = d > ly.strike_delta
                lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
            def _d(j):
                d = _black76_call_delta(tb.call(x, steps, j, reg), fut, tb.strikes[j], steps * self.dt, m.rate)
                return np.where(np.isfinite(d), d, np.where(tb.strikes[j] < fut, 1.0, 0.0))
            d_lo, d_hi = _d(lo), _d(hi)
            k1 = tb.strikes[np.where(np.abs(d_lo - ly.strike_delta) <= np.abs(d_hi - ly.strike_delta), lo, hi)]
        else:
            k1 = np.rint(fut * (1.0 + ly.strike_otm))
            if ly.strike_rule == "breakeven":
                c_open, be = cond["open"][idx], cond["breakeven"][idx]
                mapped = x * (np.maximum(be, 1e-9) / s) ** m.spot_vol_beta
                k1 = np.where(c_open, np.rint(mapped), k1)
        k1 = np.clip(k1, tb.strikes[0], tb.strikes[-1])
        return k1, np.minimum(k1 + ly.spread_width, tb.strikes[-1]), fut

    # ---- one day
    def step(self, t, last, s_t, v_t, x_t, r_t, cond, rsi_block, runlen, measure, trades):
        spec, cap = self.spec, self.ctx.market.capital
        if self._dated is not None:
            self.table = self._dated.on_day(t)
        sub = (lambda ix: None) if r_t is None else (lambda ix: r_t[ix])
        exited = np.zeros((len(spec.layers), self.n), dtype=bool)
        rolled = np.zeros((len(spec.layers), self.n), dtype=bool)
        for i, ly in enumerate(spec.layers):
            held = self.open[i]
            if not held.any():
                continue
            idx = np.flatnonzero(held)
            rem = self.expiry[i, idx] - t
            val, legs = self.value(i, idx, rem, s_t[idx], v_t[idx], x_t[idx], sub(idx))
            q, mult = self.qty[i, idx], self.mult[i]
            move = (val - self.mark[i, idx]) * q * mult
            self.pnl[idx, t] += move
            self.layer_pnl[i, idx] += move
            self.mark[i, idx] = val
            settle = rem <= 0
            roll = ~settle & (rem <= self.roll_steps[i])
            mult_exit = np.zeros(idx.size, dtype=bool)
            if spec.exit_multiple > 0 and ly.instrument != "future":
                if ly.is_short:
                    mult_exit = -val >= spec.exit_multiple * -self.entry[i, idx]
                else:
                    mult_exit = val >= spec.exit_multiple * self.entry[i, idx]
            mult_exit &= ~settle & ~roll
            rsi_exit = ~settle & ~roll & ~mult_exit & rsi_block[idx]
            sell = roll | mult_exit | rsi_exit
            if last:
                sell = ~settle
            out = settle | sell
            got = val[out] * q[out] * mult
            if ly.instrument == "future":
                got = (val[out] - self.entry[i, idx[out]]) * q[out] * mult
            self.payoff[idx[out]] += got
            if not last and sell.any():
                sl = idx[sell]
                _charge(self.pnl, self.spread, self.comm, sl, t,
                        self.costs_for(ly).spread_and_commission(legs[:, sell], x_t[sl], self.ctx.market.frictions.vix_ref,
                                                                 q[sell]), self.layer_pnl[i])
            if trades is not None:
                live = not last
                for act, mask in (("settle", settle), ("roll", roll & live), ("exit_multiple", mult_exit & live),
                                  ("rsi_exit", rsi_exit & live)):
                    for p, qq, pr in zip(idx[mask], q[mask], val[mask]):
                        trades.append((t, int(p), spec.name, i + 1, act, float(qq), float(pr)))
            exited[i, idx[(mult_exit | rsi_exit) & ~settle]] = True
            rolled[i, idx[roll | settle]] = True
            gone = idx[out]
            self.open[i, gone] = False
            self.mark[i, gone] = 0.0
            self.capital[i, gone] = 0.0
        if not last:
            self._enter(t, s_t, v_t, x_t, r_t, sub, cond, rsi_block, runlen, exited, rolled, trades, cap)
        held_any = self.open.any(axis=0)
        self.active_days += held_any
        np.maximum(self.peak, cond["margin"] + self.capital.sum(axis=0), out=self.peak)
        if measure:
            self._measure(t, s_t, v_t, x_t, sub, cond)
        if self.layer_daily is not None:      # cumulative snapshot; differenced in result()
            self.layer_daily[:, :, t] = self.layer_pnl

    def _triggered(self, ly, t, x_t, r_t, runlen, cond) -> np.ndarray:
        """Paths on which layer ``ly``'s trigger (:data:`TRIGGERS`) holds on day ``t``."""
        if ly.trigger == "always":
            return np.ones(self.n, dtype=bool)
        if ly.trigger == "vix_above":
            return x_t >= ly.trigger_vix
        if ly.trigger == "vix_sustained":
            return runlen[ly.trigger_vix][:, t] >= ly.trigger_days
        if ly.trigger == "condor_decay":
            return cond["profit_share"] >= ly.decay_share
        if ly.trigger == "backwardation":
            m1, m2 = (dte_to_steps(d, 1.0 / self.dt) for d in BACKWARDATION_DTE)
            return self.table.futures(x_t, m1, r_t) > self.table.futures(x_t, m2, r_t)
        raise ValueError(f"unknown trigger {ly.trigger!r}; known: {', '.join(TRIGGERS)}")

    def _enter(self, t, s_t, v_t, x_t, r_t, sub, cond, rsi_block, runlen, exited, rolled, trades, cap):
        spec = self.spec
        rc = cap * self.ctx.condor.margin_fraction
        for i, ly in enumerate(spec.layers):
            ok = self._triggered(ly, t, x_t, r_t, runlen, cond) & ~self.open[i] & ~rsi_block & ~exited[i]
            if spec.stagger_days > 0:
                ok &= ((t - self.last_entry) >= spec.stagger_days) | rolled[i]   # a roll's replacement is no new entry
            idx = np.flatnonzero(ok)
            if not idx.size:
                continue
            s, v, x, reg = s_t[idx], v_t[idx], x_t[idx], sub(idx)
            k1, k2, fut = self.strikes(i, idx, s, v, x, reg, cond)
            self.k1[i, idx], self.k2[i, idx] = k1, k2
            steps = np.full(idx.size, self.open_steps[i])
            price, legs = self.value(i, idx, steps, s, v, x, reg)
            mult = self.mult[i]
            hold_years = max(self.open_steps[i] - self.roll_steps[i], 1) * self.dt
            if ly.instrument == "future":
                unit_cap = spec.future_margin_fraction * price * mult
            elif ly.is_short:
                unit_cap = (k2 - k1 + price) * mult          # width - credit; price = -credit
            else:
                unit_cap = price * mult
            if ly.sizing == "vega":
                dv = self.dvalue_dvix(i, idx, steps, x, reg) * mult
                target = spec.vega_ratio * ly.allocation * cond["vega_usd"](idx)
                q = np.where(dv > 1e-12, target / np.where(dv > 1e-12, dv, 1.0), 0.0)
            else:
                if ly.sizing == "bands":
                    f = fut if fut is not None else self.table.futures(x, self.open_steps[i], reg)
                    pct = np.zeros(idx.size)
                    for lo, hi, rate in spec.budget_bands:
                        pct = np.where((f >= lo) & (f < hi), rate, pct)
                else:
                    pct = spec.budget_pct_per_year
                spend = cap * pct / 100.0 * ly.allocation * hold_years
                q = np.where(unit_cap > 1e-9, spend / np.where(unit_cap > 1e-9, unit_cap, 1.0), 0.0)
            q_want = q
            limit = np.full(idx.size, np.inf)
            if i == spec.deepest_layer:
                limit = np.minimum(limit, spec.deepest_layer_cap * rc)
            others = self.capital[:, idx].sum(axis=0)
            limit = np.minimum(limit, np.maximum(spec.margin_share_cap * rc - others, 0.0))
            q = np.minimum(q, np.where(unit_cap > 1e-9, limit / np.where(unit_cap > 1e-9, unit_cap, 1.0), 0.0))
            bound = q < q_want * (1.0 - 1e-12)
            tradable = (-price >= spec.min_price) if ly.is_short else (
                price > 0.0 if ly.instrument == "future" else price >= spec.min_price)
            wanted = tradable & (q_want > 1e-9) & (unit_cap > 1e-9)
            self.n_cap[i, idx[wanted & bound & (q <= 1e-9)]] += 1      # entries the caps block entirely
            good = wanted & (q > 1e-9)
            idx, q, price, legs, unit_cap, bound = idx[good], q[good], price[good], legs[:, good], unit_cap[good], bound[good]
            if not idx.size:
                continue
            self.open[i, idx] = True
            self.expiry[i, idx] = t + self.open_steps[i]
            self.qty[i, idx] = q
            self.mark[i, idx] = price
            self.entry[i, idx] = price
            self.capital[i, idx] = unit_cap * q
            self.n_entries[i, idx] += 1
            self.n_cap[i, idx] += bound
            fresh = ~rolled[i, idx]
            self.last_entry[idx[fresh]] = t
            if ly.instrument != "future":
                self.premium_by_layer[i, idx] += price * q * mult
            _charge(self.pnl, self.spread, self.comm, idx, t,
                    self.costs_for(ly).spread_and_commission(legs, x_t[idx], self.ctx.market.frictions.vix_ref, q),
                    self.layer_pnl[i])
            if trades is not None:
                for p, qq, pr in zip(idx, q, price):
                    trades.append((t, int(p), spec.name, i + 1, "open", float(qq), float(pr)))

    def _measure(self, t, s_t, v_t, x_t, sub, cond):
        """Condor + hedge delta per condor on paths with a condor open (SPX delta units)."""
        c_open = cond["open"]
        d_usd = np.zeros(self.n)      # dollars per SPX point
        for i, ly in enumerate(self.spec.layers):
            idx = np.flatnonzero(self.open[i] & c_open)
            if not idx.size:
                continue
            rem = np.maximum(self.expiry[i, idx] - t, 0)
            q = self.qty[i, idx] * self.mult[i]
            if ly.on_spx:
                live = rem > 0
                if live.any():
                    j = idx[live]
                    k = np.stack((self.k1[i, j], self.k2[i, j]))
                    m = self.ctx.market
                    _, d = spx_option(np.broadcast_to(s_t[j], (2, j.size)), k, rem[live] * self.dt,
                                      np.broadcast_to(v_t[j], (2, j.size)), False, self.ctx.surface, m.rate, m.div,
                                      None if sub(j) is None else np.broadcast_to(sub(j), (2, j.size)))
                    d_usd[j] += (d[0] - d[1]) * q[live]
            else:
                dvdx = self.dvalue_dvix(i, idx, rem, x_t[idx], sub(idx))
                dxds = self.ctx.market.spot_vol_beta * x_t[idx] / s_t[idx]
                d_usd[idx] += dvdx * dxds * q
        o = np.flatnonzero(c_open)
        self.delta[o, t] = cond["delta"][o] + d_usd[o] / (cond["contracts"][o] * MULTIPLIER)

    def result(self, t_len: int) -> HedgeResult:
        return HedgeResult(
            name=self.spec.name, pnl=self.pnl, layer_pnl=self.layer_pnl, premium=self.premium_by_layer.sum(axis=0),
            premium_by_layer=self.premium_by_layer, payoff=self.payoff, spread_cost=self.spread,
            commission=self.comm, active_share=self.active_days / t_len, peak_capital=self.peak, delta=self.delta,
            n_entries=self.n_entries, n_cap_bound=self.n_cap,
            layer_pnl_daily=None if self.layer_daily is None else _daily_from_cumulative(self.layer_daily),
        )
