"""The compiled kernel: every path's condor and hedge books, day by day, in one scalar loop."""

import math

import numpy as np

from alvh.fastbook.base import _jit
from alvh.fastbook.spx import _spx_legs, _spx_vega_sum, _tick_strike_for_delta
from alvh.fastbook.vix import _half_spread_sum, _vix_delta_strike, _vix_future, _vix_layer_value
from alvh.fastprice import _nmax, _nmin, _npow, borrow
from alvh.strategy import SPX_MIN_STRIKE as _SPX_MIN_STRIKE


@_jit
def _kernel(spot, var, vix, measure, rsi, dt, rate, div, cap, beta, vix_ref, costs,
            var_nodes, atm, coef, fp,
            nodes, guide, futs, calls, strikes,
            cf, ci, c_consts,
            hf, hi_, lf, li, bands, l_consts,
            # condor outputs
            condor_pnl, condor_delta, leg_pnl, c_spread, c_comm, c_credit_sum, n_condors, n_takes, n_stops, n_dte,
            contracts_sum, c_peak,
            # hedge outputs
            h_pnl, h_delta, h_layer_pnl, h_prem, h_payoff, h_spread, h_comm, h_active, h_peak, h_nent, h_ncap,
            # scratch: float (8, 4) and bool (2, 4), owned by the caller
            scratch, flags):
    """Run every path; returns 0, or ``1 + path`` where a delta strike could not be reached (the caller
    then runs the numpy engine, which raises)."""
    n, t_len = spot.shape
    n_steps = t_len - 1
    n_h = hi_.shape[0]
    l_max = max(lf.shape[1], 1)
    # every array handed to a helper as a borrowed view (alvh.fastprice.borrow): no atomic reference
    # counting per call; the arguments outlive the kernel, the scratch rows are views of `scratch`
    costs, c_consts, l_consts = borrow(costs), borrow(c_consts), borrow(l_consts)
    var_nodes, atm, coef, fp = borrow(var_nodes), borrow(atm), borrow(coef), borrow(fp)
    nodes, guide, futs, calls, strikes = borrow(nodes), borrow(guide), borrow(futs), borrow(calls), borrow(strikes)
    # condor constants
    short_delta, wing_width, wing_delta, profit_take, stop_mult = cf[0], cf[1], cf[2], cf[3], cf[4]
    margin_fraction, ts_vix = cf[5], cf[6]
    c_steps, c_steps_shift, close_steps, interval, time_shift = ci[0], ci[1], ci[2], ci[3], ci[4]
    rc = cap * margin_fraction
    spx_cost = costs[0]
    sgn = borrow(scratch[0])
    c_strikes = borrow(scratch[1])
    c_legs = borrow(scratch[2])
    legs = borrow(scratch[3])
    dlt = borrow(scratch[4])
    new_strikes = borrow(scratch[5])
    lg2 = borrow(scratch[6])
    k2buf = borrow(scratch[7])
    c_is_call = borrow(flags[0])
    put2 = borrow(flags[1])
    for j in range(4):
        sgn[j] = -1.0 if j == 0 or j == 3 else 1.0
        c_is_call[j] = j >= 2
        put2[j] = False
        for r in range(1, 8):
            scratch[r, j] = 0.0
    open_ = np.zeros((n_h, l_max), dtype=np.bool_)
    k1a = np.zeros((n_h, l_max))
    k2a = np.zeros((n_h, l_max))
    qty = np.zeros((n_h, l_max))
    mark = np.zeros((n_h, l_max))
    entry = np.zeros((n_h, l_max))
    capital = np.zeros((n_h, l_max))
    expiry = np.zeros((n_h, l_max), dtype=np.int64)
    runlen = np.zeros((n_h, l_max), dtype=np.int64)
    last_entry = np.zeros(n_h, dtype=np.int64)
    exited = np.zeros(l_max, dtype=np.bool_)
    rolled = np.zeros(l_max, dtype=np.bool_)
    for p in range(n):
        c_open = False
        c_expiry = 0
        c_credit = 0.0
        c_mark = 0.0
        c_qty = 0.0
        c_margin = 0.0
        c_delta = np.nan
        for j in range(4):
            c_strikes[j] = 0.0
            c_legs[j] = 0.0
        for h in range(n_h):
            last_entry[h] = -(10**9)
            for i in range(l_max):
                open_[h, i] = False
                k1a[h, i] = 0.0
                k2a[h, i] = 0.0
                qty[h, i] = 0.0
                mark[h, i] = 0.0
                entry[h, i] = 0.0
                capital[h, i] = 0.0
                expiry[h, i] = 0
                runlen[h, i] = 0
        for t in range(t_len):
            s = spot[p, t]
            v = var[p, t]
            x = vix[p, t]
            last = t == n_steps
            decay = -np.inf
            # ---------------- condor: mark, settle, exits
            if c_open:
                rem = c_expiry - t
                expiring = rem <= 0
                if expiring:
                    for j in range(4):
                        if c_is_call[j]:
                            legs[j] = _nmax(s - c_strikes[j], 0.0)
                        else:
                            legs[j] = _nmax(c_strikes[j] - s, 0.0)
                    delta = np.nan
                else:
                    _spx_legs(s, v, rem * dt, c_strikes, c_is_call, 4, rate, div, var_nodes, atm, coef, fp, legs, dlt)
                    delta = -((((sgn[0] * dlt[0]) + sgn[1] * dlt[1]) + sgn[2] * dlt[2]) + sgn[3] * dlt[3])
                value = (((sgn[0] * legs[0]) + sgn[1] * legs[1]) + sgn[2] * legs[2]) + sgn[3] * legs[3]
                q = c_qty
                for j in range(4):
                    leg_pnl[j, p] -= sgn[j] * (legs[j] - c_legs[j]) * q * 100.0
                condor_pnl[p, t] -= (value - c_mark) * q * 100.0
                c_mark = value
                for j in range(4):
                    c_legs[j] = legs[j]
                c_delta = delta
                decay = 1.0 - value / c_credit if c_credit > 0 else 0.0
                live_trade = (not expiring) and (not last)
                take = live_trade and (value <= (1.0 - profit_take) * c_credit)
                stop = live_trade and (not take) and (value >= stop_mult * c_credit)
                at_dte = live_trade and (not take) and (not stop) and (rem <= close_steps)
                if take or stop or at_dte:
                    sp = _half_spread_sum(legs, 4, x, vix_ref, spx_cost) * q
                    cm = 4 * spx_cost[4] * q
                    condor_pnl[p, t] -= sp + cm
                    c_spread[p] += sp
                    c_comm[p] += cm
                if take:
                    n_takes[p] += 1
                if stop:
                    n_stops[p] += 1
                if at_dte:
                    n_dte[p] += 1
                if take or stop or at_dte or expiring:
                    c_open = False
                    c_mark = 0.0
                    c_margin = 0.0
                    for j in range(4):
                        c_legs[j] = 0.0
                    c_delta = np.nan
            # ---------------- condor: entries on the schedule
            if (not last) and t % interval == 0 and not c_open:
                shifted = False
                if time_shift != 0 and c_steps_shift > c_steps:
                    shifted = x > ts_vix
                steps = c_steps_shift if shifted else c_steps
                cc = c_consts[1] if shifted else c_consts[0]
                tau = steps * dt
                kp, okd = _tick_strike_for_delta(s, v, tau, -short_delta, False, cc, var_nodes, atm, coef, fp)
                if not okd:
                    return 1 + p
                kc, okd = _tick_strike_for_delta(s, v, tau, short_delta, True, cc, var_nodes, atm, coef, fp)
                if not okd:
                    return 1 + p
                if wing_delta > 0:
                    kpl, okd = _tick_strike_for_delta(s, v, tau, -wing_delta, False, cc, var_nodes, atm, coef, fp)
                    if not okd:
                        return 1 + p
                    kcl, okd = _tick_strike_for_delta(s, v, tau, wing_delta, True, cc, var_nodes, atm, coef, fp)
                    if not okd:
                        return 1 + p
                    kpl = _nmin(kpl, kp - 5.0)
                    kcl = _nmax(kcl, kc + 5.0)
                else:
                    kpl = kp - wing_width
                    kcl = kc + wing_width
                new_strikes[0] = kpl
                new_strikes[1] = kp
                new_strikes[2] = kc
                new_strikes[3] = kcl
                _spx_legs(s, v, tau, new_strikes, c_is_call, 4, rate, div, var_nodes, atm, coef, fp, legs, dlt)
                value = (((sgn[0] * legs[0]) + sgn[1] * legs[1]) + sgn[2] * legs[2]) + sgn[3] * legs[3]
                delta = -((((sgn[0] * dlt[0]) + sgn[1] * dlt[1]) + sgn[2] * dlt[2]) + sgn[3] * dlt[3])
                width = _nmax(kp - kpl, kcl - kc)
                margin = _nmax(width - value, 0.0) * 100.0
                ok = (value > 0.0) and (margin > 0.0)
                q = math.floor(margin_fraction * cap / margin) if ok else 0.0
                ok = ok and q >= 1.0
                if ok:
                    c_open = True
                    for j in range(4):
                        c_strikes[j] = new_strikes[j]
                        c_legs[j] = legs[j]
                    c_expiry = t + steps
                    c_credit = value
                    c_mark = value
                    c_delta = delta
                    c_qty = q
                    c_margin = margin * q
                    contracts_sum[p] += q
                    c_credit_sum[p] += value * q * 100.0
                    sp = _half_spread_sum(legs, 4, x, vix_ref, spx_cost) * q
                    cm = 4 * spx_cost[4] * q
                    condor_pnl[p, t] -= sp + cm
                    c_spread[p] += sp
                    c_comm[p] += cm
                    n_condors[p] += 1
            c_peak[p] = _nmax(c_peak[p], c_margin)
            if measure[t] and c_open:
                condor_delta[p, t] = c_delta
            # ---------------- hedge books
            breakeven = c_strikes[1] - c_credit
            for h in range(n_h):
                n_l = hi_[h, 0]
                stagger = hi_[h, 1]
                rsi_ix = hi_[h, 2]
                n_b = hi_[h, 3]
                deepest = hi_[h, 4]
                budget, vega_ratio, exit_mult, rsi_exit = hf[h, 0], hf[h, 1], hf[h, 2], hf[h, 3]
                deep_cap, share_cap, fut_frac, min_price = hf[h, 4], hf[h, 5], hf[h, 6], hf[h, 7]
                block = False
                if rsi_ix >= 0:
                    r = rsi[rsi_ix, p, t]
                    block = math.isfinite(r) and r < rsi_exit
                for i in range(n_l):
                    if li[h, i, 2] == 2:      # vix_sustained: run length of VIX >= level
                        runlen[h, i] = runlen[h, i] + 1 if x >= lf[h, i, 4] else 0
                    exited[i] = False
                    rolled[i] = False
                # -- marks, settlements, exits
                for i in range(n_l):
                    if not open_[h, i]:
                        continue
                    inst = li[h, i, 0]
                    cost = costs[li[h, i, 8]]
                    mult = lf[h, i, 6]
                    rem = expiry[h, i] - t
                    remc = max(rem, 0)
                    if inst == 4:
                        k2buf[0] = k1a[h, i]
                        k2buf[1] = k2a[h, i]
                        if remc > 0:
                            _spx_legs(s, v, remc * dt, k2buf, put2, 2, rate, div, var_nodes, atm, coef, fp, lg2, dlt)
                        else:
                            lg2[0] = _nmax(k2buf[0] - s, 0.0)
                            lg2[1] = _nmax(k2buf[1] - s, 0.0)
                        val = lg2[0] - lg2[1]
                        n_lg = 2
                    else:
                        val, n_lg = _vix_layer_value(inst, x, remc, k1a[h, i], k2a[h, i], nodes, guide, futs, calls,
                                                     strikes, lg2)
                    q = qty[h, i]
                    move = (val - mark[h, i]) * q * mult
                    h_pnl[h, p, t] += move
                    h_layer_pnl[h, i, p] += move
                    mark[h, i] = val
                    settle = rem <= 0
                    roll = (not settle) and rem <= li[h, i, 5]
                    mult_exit = False
                    if exit_mult > 0 and inst != 2:
                        if inst == 3:
                            mult_exit = -val >= exit_mult * -entry[h, i]
                        else:
                            mult_exit = val >= exit_mult * entry[h, i]
                    mult_exit = mult_exit and (not settle) and (not roll)
                    rsi_out = (not settle) and (not roll) and (not mult_exit) and block
                    sell = roll or mult_exit or rsi_out
                    if last:
                        sell = not settle
                    if settle or sell:
                        if inst == 2:
                            h_payoff[h, p] += (val - entry[h, i]) * q * mult
                        else:
                            h_payoff[h, p] += val * q * mult
                    if (not last) and sell:
                        sp = _half_spread_sum(lg2, n_lg, x, vix_ref, cost) * abs(q)
                        cm = n_lg * cost[4] * abs(q)
                        h_pnl[h, p, t] -= sp + cm
                        h_spread[h, p] += sp
                        h_comm[h, p] += cm
                        h_layer_pnl[h, i, p] -= sp + cm
                    if (mult_exit or rsi_out) and not settle:
                        exited[i] = True
                    if roll or settle:
                        rolled[i] = True
                    if settle or sell:
                        open_[h, i] = False
                        mark[h, i] = 0.0
                        capital[h, i] = 0.0
                # -- entries
                if not last:
                    for i in range(n_l):
                        trig_kind = li[h, i, 2]
                        if trig_kind == 0:
                            trig = True
                        elif trig_kind == 1:
                            trig = x >= lf[h, i, 4]
                        elif trig_kind == 2:
                            trig = runlen[h, i] >= li[h, i, 6]
                        else:
                            trig = decay >= lf[h, i, 5]
                        ok = trig and (not open_[h, i]) and (not block) and (not exited[i])
                        if stagger > 0:
                            ok = ok and ((t - last_entry[h]) >= stagger or rolled[i])
                        if not ok:
                            continue
                        inst = li[h, i, 0]
                        rule = li[h, i, 1]
                        sizing = li[h, i, 3]
                        steps = li[h, i, 4]
                        mult = lf[h, i, 6]
                        cost = costs[li[h, i, 8]]
                        # strikes
                        fut = np.nan
                        if inst == 4:
                            if rule == 1:
                                k1, okd = _tick_strike_for_delta(s, v, steps * dt, -lf[h, i, 2], False, l_consts[h, i],
                                                                 var_nodes, atm, coef, fp)
                                if not okd:
                                    return 1 + p
                            else:
                                k1 = np.rint(s * (1.0 - lf[h, i, 1]) / 5.0) * 5.0
                            k2 = max(k1 - lf[h, i, 3], _SPX_MIN_STRIKE)
                        else:
                            fut = _vix_future(x, steps, nodes, guide, futs)
                            if rule == 1:
                                k1 = _vix_delta_strike(x, steps, lf[h, i, 2], fut, steps * dt, rate, nodes, guide,
                                                       calls, strikes)
                            else:
                                k1 = np.rint(fut * (1.0 + lf[h, i, 1]))
                            if rule == 2 and c_open:
                                mapped = x * _npow(_nmax(breakeven, 1e-9) / s, beta)
                                k1 = np.rint(mapped)
                            k1 = _nmin(_nmax(k1, strikes[0]), strikes[strikes.shape[0] - 1])
                            k2 = _nmin(k1 + lf[h, i, 3], strikes[strikes.shape[0] - 1])
                        # price
                        if inst == 4:
                            k2buf[0] = k1
                            k2buf[1] = k2
                            _spx_legs(s, v, steps * dt, k2buf, put2, 2, rate, div, var_nodes, atm, coef, fp, lg2, dlt)
                            price = lg2[0] - lg2[1]
                            n_lg = 2
                        else:
                            price, n_lg = _vix_layer_value(inst, x, steps, k1, k2, nodes, guide, futs, calls,
                                                           strikes, lg2)
                        hold_years = lf[h, i, 7]
                        if inst == 2:
                            unit_cap = fut_frac * price * mult
                        elif inst == 3:
                            unit_cap = (k2 - k1 + price) * mult
                        else:
                            unit_cap = price * mult
                        if sizing == 1:
                            hh = 0.5
                            lo_x = _nmax(x - hh, 0.5)
                            up, _n = _vix_layer_value(inst, x + hh, steps, k1, k2, nodes, guide, futs, calls, strikes,
                                                      legs)
                            dn, _n = _vix_layer_value(inst, lo_x, steps, k1, k2, nodes, guide, futs, calls, strikes,
                                                      legs)
                            dv = (up - dn) / (x + hh - lo_x) * mult
                            vusd = 0.0
                            if c_open:
                                vs = _spx_vega_sum(s, v, max(c_expiry - t, 1) * dt, c_strikes, sgn, rate, div,
                                                   var_nodes, atm, coef, fp)
                                vusd = _nmax(vs, 0.0) * c_qty
                            target = vega_ratio * lf[h, i, 0] * vusd
                            q = target / dv if dv > 1e-12 else 0.0
                        else:
                            if sizing == 2:
                                f = fut if inst != 4 else _vix_future(x, steps, nodes, guide, futs)
                                pct = 0.0
                                for b in range(n_b):
                                    if f >= bands[h, b, 0] and f < bands[h, b, 1]:
                                        pct = bands[h, b, 2]
                            else:
                                pct = budget
                            spend = cap * pct / 100.0 * lf[h, i, 0] * hold_years
                            q = spend / unit_cap if unit_cap > 1e-9 else 0.0
                        q_want = q
                        limit = np.inf
                        if i == deepest:
                            limit = _nmin(limit, deep_cap * rc)
                        others = capital[h, 0]
                        for jj in range(1, n_l):
                            others = others + capital[h, jj]
                        limit = _nmin(limit, _nmax(share_cap * rc - others, 0.0))
                        q = _nmin(q, limit / unit_cap if unit_cap > 1e-9 else 0.0)
                        bound = q < q_want * (1.0 - 1e-12)
                        if inst == 3:
                            tradable = -price >= min_price
                        elif inst == 2:
                            tradable = price > 0.0
                        else:
                            tradable = price >= min_price
                        wanted = tradable and (q_want > 1e-9) and (unit_cap > 1e-9)
                        if wanted and bound and q <= 1e-9:
                            h_ncap[h, i, p] += 1
                        if not (wanted and q > 1e-9):
                            continue
                        k1a[h, i] = k1
                        k2a[h, i] = k2
                        open_[h, i] = True
                        expiry[h, i] = t + steps
                        qty[h, i] = q
                        mark[h, i] = price
                        entry[h, i] = price
                        capital[h, i] = unit_cap * q
                        h_nent[h, i, p] += 1
                        if bound:
                            h_ncap[h, i, p] += 1
                        if not rolled[i]:
                            last_entry[h] = t
                        if inst != 2:
                            h_prem[h, i, p] += price * q * mult
                        sp = _half_spread_sum(lg2, n_lg, x, vix_ref, cost) * abs(q)
                        cm = n_lg * cost[4] * abs(q)
                        h_pnl[h, p, t] -= sp + cm
                        h_spread[h, p] += sp
                        h_comm[h, p] += cm
                        h_layer_pnl[h, i, p] -= sp + cm
                any_open = False
                tot = capital[h, 0]
                for i in range(n_l):
                    if open_[h, i]:
                        any_open = True
                    if i > 0:
                        tot = tot + capital[h, i]
                if any_open:
                    h_active[h, p] += 1.0
                h_peak[h, p] = _nmax(h_peak[h, p], c_margin + tot)
                # -- delta on measured days
                if measure[t] and c_open:
                    d_usd = 0.0
                    for i in range(n_l):
                        if not open_[h, i]:
                            continue
                        inst = li[h, i, 0]
                        remc = max(expiry[h, i] - t, 0)
                        qm = qty[h, i] * lf[h, i, 6]
                        if inst == 4:
                            if remc > 0:
                                k2buf[0] = k1a[h, i]
                                k2buf[1] = k2a[h, i]
                                _spx_legs(s, v, remc * dt, k2buf, put2, 2, rate, div, var_nodes, atm, coef, fp, lg2,
                                          dlt)
                                d_usd += (dlt[0] - dlt[1]) * qm
                        else:
                            hh = 0.5
                            lo_x = _nmax(x - hh, 0.5)
                            up, _n = _vix_layer_value(inst, x + hh, remc, k1a[h, i], k2a[h, i], nodes, guide, futs,
                                                      calls, strikes, legs)
                            dn, _n = _vix_layer_value(inst, lo_x, remc, k1a[h, i], k2a[h, i], nodes, guide, futs,
                                                      calls, strikes, legs)
                            dvdx = (up - dn) / (x + hh - lo_x)
                            dxds = beta * x / s
                            d_usd += dvdx * dxds * qm
                    h_delta[h, p, t] = c_delta + d_usd / (c_qty * 100.0)
    return 0
