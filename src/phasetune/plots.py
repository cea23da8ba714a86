"""Plots (matplotlib, PNG, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_free_energies(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
                       path: str | Path, title: str = "", reference: str | None = None,
                       ylabel: str = "F (eV/atom)") -> Path:
    """F(T) curves with optional error bands.

    Args:
        curves: label → (T (K), F (eV/atom), σ_F or None).
        path: PNG file to write.
        title: figure title.
        reference: label of a curve subtracted from all others (plots ΔF) if given.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    base = curves[reference] if reference else None
    for label, (t, f, err) in curves.items():
        t, f = np.asarray(t), np.asarray(f)
        y = f - np.interp(t, base[0], base[1]) if base is not None else f
        (line,) = ax.plot(t, y, marker="o", ms=3, label=label)
        if err is not None:
            ax.fill_between(t, y - err, y + err, color=line.get_color(), alpha=0.25)
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"{ylabel} − {reference}" if reference else ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
