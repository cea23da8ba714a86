"""Probabilists' Hermite polynomials He_k and their moment algebra (method.md §6 steps 2–3, 6).

The score model is ℓ(z) = Σ_{k=1..K} a_k He_k(z).  Everything the Hyvärinen fit needs is a
polynomial in z, so its expectation is an exact linear combination of raw moments E[z^p]:

* A_kl = E[He′_k He′_l] needs p ≤ 2K − 2, b_k = E[He″_k] needs p ≤ K − 2;
* the sandwich covariance needs E[g_k g_l] with g_k = He′_k ℓ′ + He″_k, i.e. p ≤ 4K − 4.

Polynomials are stored as monomial coefficient arrays ``c[..., p]`` (coefficient of z^p).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def _coefficients(k_max: int) -> np.ndarray:
    c = np.zeros((k_max + 1, k_max + 1))
    c[0, 0] = 1.0
    if k_max >= 1:
        c[1, 1] = 1.0
    for k in range(1, k_max):  # He_{k+1} = z He_k − k He_{k−1}
        c[k + 1, 1:] = c[k, :-1]
        c[k + 1] -= k * c[k - 1]
    c.flags.writeable = False
    return c


def hermite_coefficients(k_max: int) -> np.ndarray:
    """(k_max+1, k_max+1) monomial coefficients: row k holds He_k(z) = Σ_p C[k, p] z^p."""
    return _coefficients(int(k_max))


def derivative_coefficients(coef: np.ndarray, order: int = 1) -> np.ndarray:
    """Monomial coefficients of the ``order``-th derivative (same trailing length, zero padded)."""
    out = np.array(coef, dtype=float)
    n = out.shape[-1]
    for _ in range(order):
        out = np.concatenate([out[..., 1:] * np.arange(1, n), np.zeros(out.shape[:-1] + (1,))],
                             axis=-1)
    return out


def hermite_values(z: np.ndarray, k_max: int, deriv: int = 0) -> np.ndarray:
    """He_k^{(deriv)}(z) for k = 0 … k_max by the stable three-term recurrence.

    Args:
        z: any shape.
        k_max: highest degree.
        deriv: 0, 1 or 2 (He_k′ = k He_{k−1}, He_k″ = k(k−1) He_{k−2}).

    Returns:
        array of shape ``z.shape + (k_max + 1,)``.
    """
    z = np.asarray(z, dtype=float)
    he = np.empty(z.shape + (k_max + 1,))
    he[..., 0] = 1.0
    if k_max >= 1:
        he[..., 1] = z
    for k in range(1, k_max):
        he[..., k + 1] = z * he[..., k] - k * he[..., k - 1]
    if deriv == 0:
        return he
    out = np.zeros_like(he)
    k = np.arange(k_max + 1)
    if deriv == 1:
        out[..., 1:] = k[1:] * he[..., :-1]
    elif deriv == 2:
        out[..., 2:] = (k[2:] * (k[2:] - 1)) * he[..., :-2]
    else:
        raise ValueError(f"deriv must be 0, 1 or 2, got {deriv}")
    return out


def hankel(moments: np.ndarray, size: int) -> np.ndarray:
    """(..., size, size) moment matrix H[p, q] = E[z^{p+q}] from ``moments[..., p]``."""
    idx = np.arange(size)[:, None] + np.arange(size)[None, :]
    return moments[..., idx]


def score_normal_equations(moments: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Hyvärinen normal equations for ℓ = Σ_{k=1..K} a_k He_k (method.md §6 step 3).

    Args:
        moments: (..., P) raw moments E[z^p], P ≥ 2K − 1.
        degree: K.

    Returns:
        A (..., K, K) with A_kl = E[He′_k He′_l] and b (..., K) with b_k = E[He″_k].
    """
    c = hermite_coefficients(degree)[1:]  # (K, K+1), rows He_1..He_K
    d1 = derivative_coefficients(c, 1)[:, :degree]  # degree ≤ K−1
    d2 = derivative_coefficients(c, 2)[:, : max(degree - 1, 1)]
    h = hankel(moments, degree)
    a = np.einsum("kp,...pq,lq->...kl", d1, h, d1)
    b = np.einsum("kp,...p->...k", d2, moments[..., : d2.shape[1]])
    return a, b


def estimating_function_covariance(
    moments: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """Cov(g) of g_k(z) = He′_k(z) ℓ′(z) + He″_k(z) at ℓ = Σ a_k He_k (method.md §6 step 6).

    Args:
        moments: (..., P) raw moments E[z^p], P ≥ 4K − 3.
        coef: (..., K) score coefficients a_1 … a_K.

    Returns:
        (..., K, K) covariance of the per-sample estimating function g.
    """
    degree = coef.shape[-1]
    c = hermite_coefficients(degree)[1:]
    d1 = derivative_coefficients(c, 1)[:, :degree]  # (K, K) He′_k, degree ≤ K−1
    d2 = derivative_coefficients(c, 2)[:, :degree]
    lp = np.einsum("...k,kp->...p", coef, d1)  # ℓ′ coefficients, degree ≤ K−1
    size = 2 * degree - 1  # g has degree ≤ 2K − 2
    # g_k coefficients: convolution of He′_k with ℓ′, plus He″_k.
    g = np.zeros(coef.shape[:-1] + (degree, size))
    for p in range(degree):
        g[..., p : p + degree] += d1[:, p, None] * lp[..., None, :]
    g[..., :degree] += d2
    h = hankel(moments, size)
    second = np.einsum("...kp,...pq,...lq->...kl", g, h, g)
    first = np.einsum("...kp,...p->...k", g, moments[..., :size])
    return second - first[..., :, None] * first[..., None, :]


def hermite_series(coef: np.ndarray, z: np.ndarray, deriv: int = 0) -> np.ndarray:
    """d^deriv/dz^deriv of Σ_{k=0..K} c_k He_k(z) by Clenshaw's backward recurrence.

    Args:
        coef: (..., K+1) coefficients c_0 … c_K, broadcast against ``z`` (leading axes).
        z: array broadcastable with ``coef[..., 0]``.
        deriv: derivative order (He_k′ = k He_{k−1} shifts the coefficients).
    """
    c = np.asarray(coef, dtype=float)
    for _ in range(deriv):
        c = c[..., 1:] * np.arange(1, c.shape[-1])
    z = np.asarray(z, dtype=float)
    n = c.shape[-1]
    if n == 0:
        return np.zeros(np.broadcast_shapes(z.shape, c.shape[:-1]))
    b1 = np.zeros(np.broadcast_shapes(z.shape, c.shape[:-1]))
    b2 = np.zeros_like(b1)
    for k in range(n - 1, 0, -1):  # b_k = c_k + z b_{k+1} − (k+1) b_{k+2}
        b1, b2 = c[..., k] + z * b1 - (k + 1) * b2, b1
    return c[..., 0] + z * b1 - b2
