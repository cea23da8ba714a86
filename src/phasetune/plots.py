"""Plots (matplotlib, PNG, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


Curve = tuple[np.ndarray, np.ndarray, np.ndarray | None] | \
    tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]
"""(T (K), F (eV/atom), σ_F (eV/atom) or None[, solved (bool) or None])."""

UNSOLVED_SHADE = "0.88"


def plot_free_energies(curves: dict[str, Curve], path: str | Path, title: str = "",
                       reference: str | None = None, ylabel: str = "F (eV/atom)") -> Path:
    """F(T) curves with optional error bands; unsolved points are drawn hollow and grey.

    Args:
        curves: label → (T (K), F (eV/atom), σ_F or None[, solved mask or None]).  The line and
            the band go through the solved points only; each unsolved point is a hollow grey
            marker, named "<label>: not solved" in the legend.
        path: PNG file to write.
        title: figure title.
        reference: label of a curve subtracted from all others (plots ΔF) if given.
        ylabel: y-axis label, with its unit.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    base = curves[reference][:2] if reference else None
    for label, curve in curves.items():
        t, f, err = np.asarray(curve[0], float), np.asarray(curve[1], float), curve[2]
        ok = np.ones(t.shape, bool) if len(curve) < 4 or curve[3] is None \
            else np.asarray(curve[3], bool)
        y = f - np.interp(t, base[0], base[1]) if base is not None else f
        (line,) = ax.plot(t, np.where(ok, y, np.nan), marker="o", ms=3, label=label)
        if err is not None:
            e = np.where(ok, np.asarray(err, float), np.nan)
            ax.fill_between(t, y - e, y + e, color=line.get_color(), alpha=0.25)
        if not ok.all():
            ax.plot(t[~ok], y[~ok], ls="none", marker="o", ms=5, mfc="none",
                    mec=line.get_color(), alpha=0.6, label=f"{label}: not solved")
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"{ylabel} − {reference}" if reference else ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def _shade_unsolved(ax, t: np.ndarray, unsolved: np.ndarray) -> None:
    """Grey bands over the temperatures where some prediction is not solved."""
    if not unsolved.any():
        return
    half = 0.5 * (np.min(np.diff(t)) if t.size > 1 else 1.0)
    for k, i in enumerate(np.flatnonzero(unsolved)):
        ax.axvspan(t[i] - half, t[i] + half, color=UNSOLVED_SHADE, lw=0, zorder=0,
                   label="not solved (some phase)" if k == 0 else None)


def plot_phase_stability(comparison, path: str | Path, title: str = "",
                         ensemble: dict | None = None) -> Path:
    """F(T) per phase and ΔF(T) bands through the solved points only; temperatures where a
    prediction is not solved are shaded grey (its value is not a result, so it is not drawn).
    With an ensemble, a histogram of T_c per phase pair."""
    plt = pyplot()
    ncols = 3 if ensemble else 2
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.8), dpi=120)
    t = comparison.temperatures
    unsolved = np.zeros(t.shape, dtype=bool)
    for name, p in comparison.predictions.items():
        f, ok = p.F_total[:, 0], p.solved[:, 0]
        unsolved |= ~ok
        axes[0].plot(t, np.where(ok, f, np.nan), label=name)
    axes[0].set_xlabel("T (K)")
    axes[0].set_ylabel("F (eV/atom)")
    for key, (d, sig, ok) in comparison.delta.items():
        d, sig = np.where(ok, d, np.nan), np.where(ok, sig, np.nan)
        (line,) = axes[1].plot(t, 1e3 * d, label=key)
        axes[1].fill_between(t, 1e3 * (d - sig), 1e3 * (d + sig), color=line.get_color(),
                             alpha=0.3)
    for ax in axes[:2]:
        _shade_unsolved(ax, t, unsolved)
    for items in comparison.transitions.values():
        for tr in items:
            if tr.kind == "root":
                axes[1].axvline(tr.T_c, color="k", ls="--", lw=0.8,
                                label=f"$T_c$ ({tr.low}→{tr.high})")
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_xlabel("T (K)")
    axes[1].set_ylabel("ΔF (meV/atom)")
    for ax in axes[:2]:
        ax.legend(fontsize=8)
    if ensemble:
        for key, ens in ensemble.items():
            vals = ens.T_c[ens.solved]
            if vals.size:
                axes[2].hist(vals, bins=40, alpha=0.6, label=key)
        axes[2].set_xlabel("$T_c$ (K)")
        axes[2].set_ylabel("models (count)")
        axes[2].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_transition_draws(t_c: np.ndarray, path: str | Path, label: str) -> Path:
    """Histogram of the transition temperatures (K) of an ensemble of models to a PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    ax.hist(np.asarray(t_c, dtype=float), bins=40)
    ax.set_xlabel(label)
    ax.set_ylabel("posterior draws (count)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_gibbs(results: dict, path: str | Path, title: str = "") -> Path:
    """V*(T) with σ bands and G(T) (ΔG to the first phase when there are several) per phase and
    pressure, first model, solved points only.  ``results``: phase → GibbsPrediction."""
    from .constants import GPA_TO_EV_PER_A3

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), dpi=120)
    names = list(results)
    ref = results[names[0]]
    for name, g in results.items():
        t = g.temperatures
        for k, p in enumerate(g.pressures):
            ok = g.solved[k, :, 0]
            label = f"{name}, {p / GPA_TO_EV_PER_A3:g} GPa"
            v, sv = np.where(ok, g.volume[k, :, 0], np.nan), g.sigma_volume[k, :, 0]
            (line,) = axes[0].plot(t, v, label=label)
            axes[0].fill_between(t, v - sv, v + sv, color=line.get_color(), alpha=0.3)
            if len(names) == 1:
                axes[1].plot(t, np.where(ok, g.G[k, :, 0], np.nan), label=label)
            elif name != names[0]:
                both = ok & ref.solved[k, :, 0]
                d = 1e3 * np.where(both, g.G[k, :, 0] - ref.G[k, :, 0], np.nan)
                s = 1e3 * np.hypot(g.sigma_G[k, :, 0], ref.sigma_G[k, :, 0])
                (line,) = axes[1].plot(t, d, label=f"{name} − {names[0]}, "
                                       f"{p / GPA_TO_EV_PER_A3:g} GPa")
                axes[1].fill_between(t, d - s, d + s, color=line.get_color(), alpha=0.3)
    axes[0].set_xlabel("T (K)")
    axes[0].set_ylabel("V* (Å³/atom)")
    axes[1].set_xlabel("T (K)")
    if len(names) == 1:
        axes[1].set_ylabel("G (eV/atom)")
    else:
        axes[1].axhline(0, color="k", lw=0.5)
        axes[1].set_ylabel("ΔG (meV/atom)")
    for ax in axes:
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_phase_diagram(diagram, path: str | Path, title: str = "") -> Path:
    """The P–T diagram: stable-phase regions (grey where no phase is solved), coexistence lines
    T_c(P) with ±σ bands (dashed where metastable), P_c(T) points."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from .constants import GPA_TO_EV_PER_A3

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.5), dpi=120)
    p = diagram.pressures / GPA_TO_EV_PER_A3
    t = diagram.temperatures
    colours = plt.get_cmap("Pastel1").colors
    n = len(diagram.phases)
    cmap = ListedColormap([UNSOLVED_SHADE, *colours[:n]])
    ax.pcolormesh(p, t, diagram.stable.T + 1, cmap=cmap, vmin=0, vmax=n, shading="nearest")
    handles = [Patch(color=colours[k], label=name) for k, name in enumerate(diagram.phases)]
    if (diagram.stable < 0).any():
        handles.append(Patch(color=UNSOLVED_SHADE, label="some phase not solved"))
    for key, line in diagram.lines.items():
        pts = [next((q for q in pts if q.kind == "root"), None) for pts in line.isobars]
        tc = np.array([q.temperature if q else np.nan for q in pts])
        sig = np.array([q.sigma_T if q else np.nan for q in pts])
        stable = np.array([bool(q and q.stable) for q in pts])
        if not np.isfinite(tc).any():
            continue
        (ln,) = ax.plot(p, np.where(stable, tc, np.nan), "k-", lw=1.2)
        ax.plot(p, np.where(~stable, tc, np.nan), "k--", lw=0.8)
        ax.fill_between(p, tc - sig, tc + sig, color="k", alpha=0.2, lw=0)
        handles.append(ln.__class__([], [], color="k", label=f"{key}: $T_c(P)$ ± σ"))
        iso = [(q.pressure / GPA_TO_EV_PER_A3, q.temperature) for pts in line.isotherms
               for q in pts]
        if iso:
            (dots,) = ax.plot(*zip(*iso, strict=True), "k.", ms=4)
            handles.append(dots.__class__([], [], color="k", marker=".", ls="",
                                          label=f"{key}: $P_c(T)$"))
    ax.set_xlabel("P (GPa)")
    ax.set_ylabel("T (K)")
    ax.legend(handles=handles, fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
