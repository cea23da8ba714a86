"""Compiled inner loops of the estimator (numba): the exact table path, the polynomial sums and
the α saddle.  Callers: :meth:`.conjugate.ConjugateTables.table_sums`,
:meth:`.ConjugateTables.paths`, :meth:`.saddle.SaddleSolver.solve`.  Fused loops avoid
the temporary arrays per element that dominate a numpy formulation (~25 per table element).
Arrays are float64 / intp and C-contiguous; outputs are written in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEWTON_ITERATIONS = 30
"""Safeguarded Newton steps of the α saddle at most (quadratic convergence from the dense
grid usually needs 4–7)."""


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})
def table_sums(pairs, kappa_hat, models, shells, starts, beta, cells, inv_h, offset, first,
               n_cells, sums, clamped, z_out):
    """Cubic Hermite table values at κ = βκ̂, added to the (model, shell) sums.

    For element (x, t): u = κ/h − κ_lo/h, u_c = clip(u, 0, n_cells), k = ⌊u_c⌋, t' = u_c − k,
    row = first[e] + k of ``cells`` (c0, c1, c2, c3, v);  Ĝ = c0 + c1t' + c2t'² + c3t'³ plus
    (u − u_c)·dĜ/dt' beyond the table (linear continuation, clamped), dĜ/dt' = c1 + 2c2t' +
    3c3t'².  Adds (Ĝ, κĜ′ = (κ/h)·dĜ/dt', v) to sums[:, t, model, shell] and the clamped count
    to clamped[t, model, shell], and writes z_out[x, t] = Ĝ′ = (dĜ/dt')/h if z_out has rows.
    Segment s (elements starts[s]:starts[s+1], one (model, shell)) is summed in a local buffer
    and written once.

    Args:
        pairs, models, shells: (n,) intp, grouped by (model, shell); starts: (n_seg + 1,) intp.
        kappa_hat: (n,) κ̂.  beta: (n_T,); cells: (E·n_slopes, 5); inv_h, offset: (E,) float,
        first: (E,) intp.  n_cells: float, n_slopes − 1.  sums: (3, n_T, M, n_α) float;
        clamped: (n_T, M, n_α) int64.  z_out: (n, n_T) or (0, 0).
    """
    want_z = z_out.shape[0] > 0
    n_t = beta.size
    acc = np.zeros((4, n_t))
    scaled = np.empty(n_t)
    tt = np.empty(n_t)
    bey = np.empty(n_t)
    rows = np.empty(n_t, np.intp)
    c = np.empty((5, n_t))
    for seg in range(starts.size - 1):
        for x in range(starts[seg], starts[seg + 1]):
            e = pairs[x]
            scale = kappa_hat[x] * inv_h[e]
            off = offset[e]
            base = first[e]
            for t in range(n_t):  # cell coordinates (vectorisable)
                s = scale * beta[t]
                u = s + off
                uc = min(max(u, 0.0), n_cells)
                k = int(uc)
                scaled[t] = s
                tt[t] = uc - k
                bey[t] = u - uc
                rows[t] = base + k
            for t in range(n_t):  # gather
                r = rows[t]
                for j in range(5):
                    c[j, t] = cells[r, j]
            for t in range(n_t):  # cubic, slope, linear continuation (vectorisable)
                q = tt[t]
                dg = (3.0 * c[3, t] * q + 2.0 * c[2, t]) * q + c[1, t]
                acc[0, t] += (((c[3, t] * q + c[2, t]) * q + c[1, t]) * q + c[0, t]
                              + bey[t] * dg)
                acc[1, t] += scaled[t] * dg
                acc[2, t] += c[4, t]
                acc[3, t] += 1.0 if bey[t] != 0.0 else 0.0
                c[1, t] = dg
            if want_z:
                for t in range(n_t):
                    z_out[x, t] = c[1, t] * inv_h[e]
        m = models[starts[seg]]
        i = shells[starts[seg]]
        for t in range(n_t):
            for j in range(3):
                sums[j, t, m, i] += acc[j, t]
                acc[j, t] = 0.0
            clamped[t, m, i] += int(acc[3, t])
            acc[3, t] = 0.0


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})
def path_sums(kappa_hat, beta_min, beta_max, poly_lo, poly_hi, poly_scale, kappa_lo, kappa_hi,
              edges, g_rows, v_rows, dz_rows, n_d, linear, q, qv, zc, clamped, y, path,
              ex_shell, ex_model, ex_pair):
    """Route every (model, pair) and sum the T-independent paths per (model, shell).

    With κ ∈ [κ_a, κ_b] = βκ̂ over [β_min, β_max] and y = κ̂/κ_sc:
    * polynomial (path 0) if [κ_a, κ_b] ⊂ [poly_lo, poly_hi]: Q[p] += g_p y^p, QV[p] += v_p y^p,
      zc[p, m, e] = dz_p y^p (z* = Σ_p β^p zc_p);
    * linear (path 1, only if ``linear``) if κ_a > κ_hi or κ_b < κ_lo (clamped at every β):
      Ĝ = Ĝ_e + z_e(βκ̂ − κ_e) gives Q[0] += Ĝ_e − z_eκ_e, Q[1] += z_eκ̂, QV[0] += v_e,
      zc[0, m, e] = z_e, clamped[m, i] += 1 (edge values ``edges[side, :, e]``);
    * exact table path (path 2) otherwise: appended to ex_shell/ex_model/ex_pair in
      (shell, model, pair) order, i.e. sorted by the key shell·M + model.

    Args:
        kappa_hat, y: (M, E) in / out; path: (M, E) int8 out.  poly_*, kappa_lo/hi: (E,).
        edges: (2, 4, E) (κ_e, Ĝ_e, z_e, v_e) of the low and high edge.  g_rows, v_rows:
        (P+1, E); dz_rows: (P, E).  q, qv: (P+1, M, n_α) out; zc: (P, M, E) zeroed or
        (0, 0, 0); clamped: (M, n_α) int64 out; ex_*: (M·E,) intp out.

    Returns:
        The number of exact elements.
    """
    m_count, n_e = kappa_hat.shape
    n_a = n_e // n_d
    n_p = g_rows.shape[0]
    want_z = zc.shape[0] > 0
    power = np.empty(n_d)
    ys = np.empty(n_d)
    n_x = 0
    for i in range(n_a):
        first = i * n_d
        for m in range(m_count):
            lin_g0 = 0.0
            lin_g1 = 0.0
            lin_v = 0.0
            n_linear = 0
            for j in range(n_d):  # route; polynomial pairs get power 1, the others 0
                e = first + j
                kh = kappa_hat[m, e]
                lo = min(beta_min * kh, beta_max * kh)
                hi = max(beta_min * kh, beta_max * kh)
                power[j] = 0.0
                ys[j] = 0.0
                if lo >= poly_lo[e] and hi <= poly_hi[e]:
                    ys[j] = kh / poly_scale[e]
                    power[j] = 1.0
                    path[m, e] = 0
                elif linear and (lo > kappa_hi[e] or hi < kappa_lo[e]):
                    side = 1 if lo > kappa_hi[e] else 0
                    z_e = edges[side, 2, e]
                    lin_g0 += edges[side, 1, e] - z_e * edges[side, 0, e]
                    lin_g1 += z_e * kh
                    lin_v += edges[side, 3, e]
                    if want_z:
                        zc[0, m, e] = z_e
                    path[m, e] = 1
                    n_linear += 1
                else:
                    path[m, e] = 2
                    ex_shell[n_x] = i
                    ex_model[n_x] = m
                    ex_pair[n_x] = e
                    n_x += 1
                y[m, e] = ys[j]
            for p in range(n_p):  # Σ_j coefficient × y^p, contiguous in j (vectorisable)
                acc = 0.0
                acc_v = 0.0
                for j in range(n_d):
                    acc += g_rows[p, first + j] * power[j]
                    acc_v += v_rows[p, first + j] * power[j]
                if want_z and p < n_p - 1:
                    for j in range(n_d):
                        if power[j] != 0.0 or ys[j] != 0.0:
                            zc[p, m, first + j] = dz_rows[p, first + j] * power[j]
                for j in range(n_d):
                    power[j] *= ys[j]
                q[p, m, i] = acc
                qv[p, m, i] = acc_v
            q[0, m, i] += lin_g0
            q[1, m, i] += lin_g1
            qv[0, m, i] += lin_v
            clamped[m, i] = n_linear
    return n_x


@njit(cache=True, nogil=True)
def interior_minimum(values):
    """Index of the lowest interior local minimum of the 1-d ``values`` (v_k < v_{k−1} and
    v_k ≤ v_{k+1}), else of the global minimum (first of equals)."""
    best = -1
    for k in range(1, values.size - 1):
        if values[k] < values[k - 1] and values[k] <= values[k + 1]:
            if best < 0 or values[k] < values[best]:
                best = k
    if best < 0:
        best = 0
        for k in range(1, values.size):
            if values[k] < values[best]:
                best = k
    return best


@njit(cache=True, nogil=True)
def interior_minima(values):
    """:func:`interior_minimum` of every row of ``values`` (n, m) → (n,) intp."""
    out = np.empty(values.shape[0], np.intp)
    for row in range(values.shape[0]):
        out[row] = interior_minimum(values[row])
    return out


@njit(cache=True, nogil=True)
def solve_saddles(h, var, alphas, measure, m_shell, m_dense, size, mono_ops, mids, halves,
                  dense, dense_t, exp_dense, hats, dof, not_converged, alpha, f_smooth, f2,
                  weights, dweights, status, birge):
    """The α saddle of every row (see :class:`.saddle.SaddleSolver`), in place.

    The shell measure m(α) = Σ_q c_q u^q + Σ_k d_k e^{kα}, u = (α − m_c)/m_h, is given as
    ``measure`` = [m_c, m_h, n_c, c_0 … c_{n_c−1}, d_1, …] (the harmonic shells:
    [0, 1, 2, 0, r/2], m = (r/2)α).
    Per row: the window s starts centred on the lowest interior minimum of h_i − m(α_i); on
    window s the smoothed f(α) = e^α Σ_p a_p t^p − m(α) with a = mono_ops[s] @ h[s:s+size]
    and t = (α − mids[s])/halves[s] is minimised from the lowest interior minimum on
    dense[s] by Newton steps safeguarded to the neighbouring grid points, until
    |Δα| ≤ 10⁻¹³(1 + |α|) with f″ > 0 (else ``not_converged``, unless α* is a window edge).  If
    α* is the edge of a window that is not the grid's edge, the window moves one shell that way
    (after n_α moves the answer is kept, flagged).  Outputs α*, e^α Σ a_p t^p at α*, f″(α*),
    the weights w(α*) = ∂(Lh)/∂h and w′(α*) (zero outside the window), status and, if var has
    rows, the Birge ratio max(1, (χ²/dof)^{1/2}) of the window's fit (h − hat @ h)²/var.

    Args:
        h: (n, n_α); var: (n, n_α) or (0, 0); alphas: (n_α,); measure: (3 + n_c + n_d,);
        m_shell, m_dense: m(α) precomputed on the shells (n_α,) and on ``dense``;
        size: shells per window.
        mono_ops: (n_win, P+1, size); mids, halves: (n_win,); dense and its t and e^α:
        (n_win, n_dense); hats: (n_win, size, size); dof: size − (P+1).
    """
    n, n_a = h.shape
    n_win, n_p, _ = mono_ops.shape
    n_dense = dense.shape[1]
    raw = np.empty(n_a)
    values = np.empty(n_dense)
    coef = np.empty(n_p)
    for row in range(n):
        for i in range(n_a):
            raw[i] = h[row, i] - m_shell[i]
        s = min(max(interior_minimum(raw) - size // 2, 0), n_win - 1)
        for attempt in range(n_a):
            for p in range(n_p):
                acc = 0.0
                for i in range(size):
                    acc += mono_ops[s, p, i] * h[row, s + i]
                coef[p] = acc
            mid = mids[s]
            half = halves[s]
            for k in range(n_dense):
                tt = dense_t[s, k]
                v = coef[n_p - 1]
                for j in range(n_p - 2, -1, -1):
                    v = v * tt + coef[j]
                values[k] = exp_dense[s, k] * v - m_dense[s, k]
            best = interior_minimum(values)
            lo = dense[s, max(best - 1, 0)]
            hi = dense[s, min(best + 1, n_dense - 1)]
            a = dense[s, best]
            done = False
            for _ in range(NEWTON_ITERATIONS):
                g1, g2 = _derivatives(coef, a, mid, half)
                m0, m1, m2 = _measure(measure, a)
                g1 -= m1
                g2 -= m2
                step = -g1 / g2 if g2 > 0.0 else 0.0
                new = min(max(a + step, lo), hi)
                done = abs(new - a) <= 1e-13 * (1.0 + abs(a)) and g2 > 0.0
                if done or new == a:  # converged, or stuck (later steps would repeat this)
                    a = new
                    break
                a = new
            shift = 0
            if a == dense[s, 0] and s > 0:
                shift = -1
            elif a == dense[s, n_dense - 1] and s < n_win - 1:
                shift = 1
            if shift != 0 and attempt < n_a - 1:
                s += shift
                continue
            code = 0
            at_edge = a == dense[s, 0] or a == dense[s, n_dense - 1]
            if (not done and not at_edge) or shift != 0:
                code = not_converged
            tt = (a - mid) / half
            inv_half = 1.0 / half
            e = np.exp(a)
            v = coef[n_p - 1]
            for j in range(n_p - 2, -1, -1):
                v = v * tt + coef[j]
            alpha[row] = a
            f_smooth[row] = e * v
            f2[row] = _derivatives(coef, a, mid, half)[1] - _measure(measure, a)[2]
            status[row] = code
            for i in range(size):  # w = e^α Σ_p t^p M_pi, w′ = e^α Σ_p (t^p + p t^{p−1}/half) M_pi
                w = 0.0
                dw = 0.0
                power = 1.0
                lower = 0.0
                for p in range(n_p):
                    w += power * mono_ops[s, p, i]
                    dw += (power + p * lower * inv_half) * mono_ops[s, p, i]
                    lower = power
                    power *= tt
                weights[row, s + i] = e * w
                dweights[row, s + i] = e * dw
            if var.shape[0] > 0:
                chi2 = 0.0
                if dof > 0:
                    for i in range(size):
                        fitted = 0.0
                        for j in range(size):
                            fitted += hats[s, i, j] * h[row, s + j]
                        res = h[row, s + i] - fitted
                        if var[row, s + i] > 0.0:
                            chi2 += res * res / var[row, s + i]
                    birge[row] = max(1.0, np.sqrt(chi2 / dof))
                else:
                    birge[row] = 1.0
            break


@njit(cache=True, nogil=True, inline="always")
def _measure(measure, a):
    """(m, m′, m″) at α = a of m(α) = Σ_q c_q u^q + Σ_{k≥1} d_k e^{kα}, u = (α − m_c)/m_h, with
    measure = [m_c, m_h, n_c, c_0 … c_{n_c−1}, d_1, d_2, …] (Horner's rule for the polynomial)."""
    half = measure[1]
    u = (a - measure[0]) / half
    n_q = int(measure[2])
    p = measure[n_q + 2]
    d1 = 0.0
    d2 = 0.0
    for j in range(n_q - 2, -1, -1):
        d2 = d2 * u + 2.0 * d1
        d1 = d1 * u + p
        p = p * u + measure[j + 3]
    d1 /= half
    d2 /= half * half
    for k in range(1, measure.size - 2 - n_q):
        term = measure[2 + n_q + k] * np.exp(k * a)
        p += term
        d1 += k * term
        d2 += k * k * term
    return p, d1, d2


@njit(cache=True, nogil=True)
def measure_value(measure, a):
    """m(α = a) of :func:`_measure` (for precomputing it on grids)."""
    return _measure(measure, a)[0]


@njit(cache=True, nogil=True, inline="always")
def _derivatives(coef, a, mid, half):
    """(d/dα, d²/dα²) of e^α Σ_p coef_p t^p, t = (α − mid)/half, by Horner's rule."""
    tt = (a - mid) / half
    n_p = coef.size
    p = coef[n_p - 1]
    d1 = 0.0
    d2 = 0.0
    for j in range(n_p - 2, -1, -1):
        d2 = d2 * tt + 2.0 * d1
        d1 = d1 * tt + p
        p = p * tt + coef[j]
    d1 /= half
    d2 /= half * half
    e = np.exp(a)
    return e * (p + d1), e * (p + 2.0 * d1 + d2)
