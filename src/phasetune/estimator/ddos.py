"""The D-DOS free-energy estimator (method.md §2.4 and §7).

:class:`DDOSEstimator` precomputes, once per (phase, volume): the score fits (§6), the Legendre
conjugate tables (§7 precompute 2), the α smoother (§7 precompute 3); then
:meth:`DDOSEstimator.predict` evaluates F_total, F_vib, σ_F, α*, T_α*, s, solved, n_clamped and
optionally D* and the Hessian for n_models × n_T in memory-bounded chunks of models.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..constants import KB
from ..conventions import Conventions
from ..cores import available_cores
from ..errors import EstimatorError
from ..model import PhaseVolume, shells_have_raw
from ..scoring.score_matching import (
    DEFAULT_DEGREE,
    DEFAULT_RIDGE,
    MAX_DEGREE,
    Degree,
    PhaseVolumeFit,
    fit_phase_volume,
)
from .conjugate import N_SLOPES, POLY_TOL, ConjugateTables
from .joint import ESS_MIN, JointCorrection
from .kinetic import DEFAULT_DEGREE as KINETIC_DEGREE
from .kinetic import ReferenceEntropy, TIAnchor, reference_entropy, stored_anchor
from .prediction import CLAMPED, LOW_SUPPORT, Prediction
from .saddle import SaddleSolver, assemble
from .smoother import DEFAULT_DEGREE as SMOOTHER_DEGREE
from .terms import CumulantChunk, FrameStack, ScoreChunk

DEFAULT_CONVENTIONS = Conventions()
HESSIAN_LIMIT = 2**27
"""Largest Hessian output (floats, 1 GiB) returned by one call."""
MEMORY_BUDGET = 2**23
"""Floats of working memory per chunk of models (64 MiB)."""


class DDOSEstimator:
    """Free energies of linear potentials E = N[β0 + θ·D] for one (phase, volume).

    Args:
        phase_volume: reference, shells and descriptor info.
        conventions: mode count etc. (method.md §3); recorded in every Prediction.
        degree: score degree K (2–8) or ``"auto"`` (held-out objective over batches).
        ridge: λ of the scale-free score ridge.
        smoother_degree: Legendre degree of the α smoother (≤ 5 recommended).
        n_slopes: conjugate table size per (shell, component).
        poly_tol: accuracy (βF per atom, per pair) demanded of the polynomial fast path.
        fit: a precomputed :class:`PhaseVolumeFit` (must not be stale).
        kinetic_degree: kinetic shells: degree of the fit of ds_ref/dα over the shells.
        anchor_correction: kinetic shells, ``"log"`` model: apply the first-order anharmonic
            correction to the harmonic anchor of s_ref (it is reported either way).
        kinetic_model: kinetic shells: ``"power"`` (g = r_n + Σ_q b_q ε^q, harmonic limit
            built in) or ``"log"`` (polynomial in ln ε anchored at the lowest shell).  Liquids
            always use ``"log"`` with a TI anchor (method.md §4.6).
        ti_anchor: kinetic shells: the reference's free energy at one temperature from TI, the
            constant of the shell measure (required for a liquid, optional for a crystal);
            default: ``phase_volume.provenance["ti_anchor"]`` (set by
            :func:`phasetune.estimator.anchors.attach_anchors`).
    """

    def __init__(self, phase_volume: PhaseVolume, conventions: Conventions = DEFAULT_CONVENTIONS,
                 degree: Degree = DEFAULT_DEGREE, *, ridge: float = DEFAULT_RIDGE,
                 smoother_degree: int = SMOOTHER_DEGREE, n_slopes: int = N_SLOPES,
                 poly_tol: float = POLY_TOL, fit: PhaseVolumeFit | None = None,
                 kinetic_degree: int = KINETIC_DEGREE, anchor_correction: bool = True,
                 kinetic_model: str = "power", ti_anchor: TIAnchor | None = None):
        if phase_volume.flavour not in ("hessian", "kinetic"):
            raise EstimatorError(f"sampler flavour {phase_volume.flavour!r} has no estimator path",
                                 "use Hessian-isosurface or kinetic archives")
        if len(phase_volume.shells) < 2:
            ref = phase_volume.reference
            raise EstimatorError(
                f"{ref.phase} at {ref.volume:g} Å³/atom has {len(phase_volume.shells)} sampled "
                "shell(s); the estimator needs at least two",
                "finish the campaign (phasetune sample CAMPAIGN.yaml resumes it)")
        shells = sorted(phase_volume.shells, key=lambda s: s.alpha)
        self.phase_volume = PhaseVolume(phase_volume.reference, shells, phase_volume.descriptors,
                                        phase_volume.flavour, phase_volume.provenance)
        ref = self.reference = phase_volume.reference
        self.conventions = conventions
        self.kinetic: ReferenceEntropy | None = None
        """The shell measure s_ref of kinetic shells (method.md §4.5), None for Hessian shells."""
        self.ti_anchor = ti_anchor
        if phase_volume.flavour == "kinetic":
            self.ti_anchor = ti_anchor or stored_anchor(phase_volume)
            liquid = phase_volume.liquid
            self.kinetic = reference_entropy(self.phase_volume, conventions, kinetic_degree,
                                             anchor_correction and not liquid,
                                             "log" if liquid else kinetic_model,
                                             self.ti_anchor, liquid)
        self.r = ref.modes_per_atom(conventions)
        self.n_components = len(ref.D0)
        self.fixed = np.asarray(phase_volume.descriptors.fixed, dtype=bool)
        if self.fixed.shape != (self.n_components,):
            raise EstimatorError(f"descriptor info has {self.fixed.size} components, D0 has "
                                 f"{self.n_components}")
        self.degree, self.ridge = degree, ridge
        self._settings = dict(ridge=ridge, smoother_degree=smoother_degree, n_slopes=n_slopes,
                              poly_tol=poly_tol, kinetic_degree=kinetic_degree,
                              anchor_correction=anchor_correction, kinetic_model=kinetic_model)
        if fit is None:
            fit = fit_phase_volume(self.phase_volume, degree, ridge)
        elif fit.is_stale(self.phase_volume):
            raise EstimatorError("the score fit is stale: it was made from other data, settings "
                                 "or phasetune fit version", "refit (phasetune fit)")
        self.fit = fit
        self.alphas = self.phase_volume.alphas
        self.tables = ConjugateTables.from_fits(fit.shells, n_slopes, poly_tol)
        self.frames = FrameStack(np.stack([f.rotation for f in fit.shells]),
                                 np.stack([f.mean for f in fit.shells]),
                                 np.stack([f.scale for f in fit.shells]), ref.n_atoms)
        self.solver = SaddleSolver(self.alphas, self.r, smoother_degree,
                                   measure=None if self.kinetic is None else self.kinetic.measure())
        self.d0 = np.asarray(ref.D0, dtype=float)
        self._mu = np.stack([s.mean for s in shells]) - self.d0
        self._k = ref.n_atoms * np.stack([s.cov for s in shells])
        self._alternative: DDOSEstimator | None = None
        self.route = "score"
        """Default route of :meth:`predict`; ``"cumulant"`` where the score route cannot be
        supported by the data (e.g. tilts beyond the sampled support)."""
        self.joint_reference: np.ndarray | None = None
        """θ_ref of the joint correction (:mod:`.joint`), None when it is off."""
        self._joint: dict[str, JointCorrection] = {}
        ref_theta = phase_volume.provenance.get("reference_theta")
        if ref_theta is not None and shells_have_raw(shells):
            self.set_joint_reference(np.asarray(ref_theta, dtype=float))

    def set_joint_reference(self, theta_ref: np.ndarray | None) -> None:
        """Correct the per-shell terms beyond independent marginals, exactly at ``theta_ref``
        and to first order around it (:mod:`.joint`); None switches the correction off.

        Needs every shell's raw descriptors (campaigns with ``store_raw: true``).  On by
        default when the archive records its reference potential's θ and kept raw samples."""
        if theta_ref is None:
            self.joint_reference, self._joint, self._alternative = None, {}, None
            return
        if not shells_have_raw(self.phase_volume.shells):
            raise EstimatorError("the joint correction needs every shell's raw descriptors",
                                 "sample with store_raw: true")
        self.joint_reference = self.check_theta(theta_ref)[0]
        self._joint = {}
        self._alternative = None

    def joint_correction(self, route: str) -> JointCorrection | None:
        """The route's correction tables (built on first use), or None when off."""
        if self.joint_reference is None:
            return None
        if route not in self._joint:
            ref = self.joint_reference

            def route_terms(beta):
                if route == "score":
                    part = ScoreChunk(self.tables, self.frames, ref[None], beta, gradient=True)
                else:
                    part = CumulantChunk(self._mu, self._k, ref[None], beta)
                return part.terms, part.shell_vectors()[:, 0]

            t_shell = self.reference.shell_temperature(self.alphas, self.conventions)
            self._joint[route] = JointCorrection.build(
                self.phase_volume.shells, self.d0, ref, self.reference.n_atoms, t_shell,
                route_terms)
        return self._joint[route]

    # ------------------------------------------------------------------------------------------
    # validation

    def check_theta(self, theta: np.ndarray) -> np.ndarray:
        """θ as (n_models, N_D) float, with fixed components validated to be 1.  On kinetic
        shells a potential's own θ (without the kinetic component K/N) is accepted and gets
        θ_K = 1 appended."""
        th = np.asarray(theta, dtype=float)
        if th.ndim == 1:
            th = th[None, :]
        if (self.phase_volume.flavour == "kinetic" and th.ndim == 2
                and th.shape[1] == self.n_components - 1):
            th = np.concatenate([th, np.ones((th.shape[0], 1))], axis=1)
        if th.ndim != 2 or th.shape[1] != self.n_components:
            raise EstimatorError(
                f"θ has shape {np.shape(theta)}; expected (N_D,) or (n_models, N_D) with "
                f"N_D = {self.n_components} (including {int(self.fixed.sum())} fixed components)",
                "pass all descriptor coefficients, without the constant β0",
            )
        if not np.all(np.isfinite(th)):
            raise EstimatorError("θ contains non-finite values")
        if self.fixed.any() and not np.allclose(th[:, self.fixed], 1.0, rtol=0.0, atol=1e-12):
            labels = [self.phase_volume.descriptors.labels[i] for i in np.flatnonzero(self.fixed)]
            raise EstimatorError(f"fixed components {labels} must have coefficient 1",
                                 "set θ of fixed (θ-independent) components to 1")
        return th

    @staticmethod
    def check_temperatures(temperatures) -> np.ndarray:
        t = np.atleast_1d(np.asarray(temperatures, dtype=float))
        if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise EstimatorError(f"temperatures must be a 1-d array of positive values, got {t}")
        return t

    # ------------------------------------------------------------------------------------------
    # prediction

    def predict(self, theta, temperatures, *, gradient: bool = False, hessian: bool = False,
                chunk_size: int | None = None, route: str | None = None,
                beta0: float | np.ndarray | None = None,
                threads: int | None = None) -> Prediction:
        """F(θ, T) and friends for every model and temperature (method.md §7 per call).

        Args:
            theta: (n_models, N_D) or (N_D,) coefficients, eV per feature unit (fixed
                components = 1; β0 not included).
            temperatures: (n_T,) K.
            gradient: also return D* = ∂F_total/∂θ (n_T, n_models, N_D).
            hessian: also return ∂²F_total/∂θ∂θᵀ (n_T, n_models, N_D, N_D).
            chunk_size: models per chunk (default from a 64 MiB working-memory budget per
                thread).
            route: ``"score"`` or ``"cumulant"`` (second-order, no support limits); default
                :attr:`route` of this estimator (``"score"`` unless set).
            beta0: constant β0 of the evaluated potential(s), eV/atom, scalar or (n_models,)
                (default: ``reference.beta0``).
            threads: chunks evaluated concurrently (default: the cores available to this
                process); results do not depend on it.

        Returns:
            :class:`Prediction` with (n_T, n_models) arrays.
        """
        th = self.check_theta(theta)
        temps = self.check_temperatures(temperatures)
        route = route or self.route
        if route not in ("score", "cumulant"):
            raise EstimatorError(f"unknown route {route!r}", "use 'score' or 'cumulant'")
        n_t, n_m, n_d = temps.size, th.shape[0], self.n_components
        n_a = self.alphas.size
        if hessian and n_t * n_m * n_d * n_d > HESSIAN_LIMIT:
            raise EstimatorError(
                f"the Hessian of {n_m} models × {n_t} temperatures needs "
                f"{8 * n_t * n_m * n_d * n_d / 2**30:.1f} GiB",
                "request Hessians for fewer models per call (stream over model blocks)")
        per_model = (self.tables.poly_G.shape[1] + 3) * n_a * n_d + 12 * n_t * n_a
        if gradient:
            # polynomial z* coefficients and their rotations; D*; the dense exact-pair block
            per_model += (3 * self.tables.poly_G.shape[1] + n_t) * n_a * n_d + 2 * n_t * n_d
        if hessian:
            per_model += n_t * (3 * n_a * n_d + 2 * n_d * n_d)
        chunk = int(chunk_size or max(1, MEMORY_BUDGET // per_model))
        keys = ("F_vib", "sigma_F", "alpha", "entropy", "status", "n_clamped")
        out = {k: np.empty((n_t, n_m), dtype=np.int64 if k in ("status", "n_clamped") else float)
               for k in keys}
        d_star = np.empty((n_t, n_m, n_d)) if gradient else None
        hess = np.empty((n_t, n_m, n_d, n_d)) if hessian else None
        beta = 1.0 / (KB * temps)
        joint = self.joint_correction(route)
        joint_terms = None if joint is None else joint.at(beta)

        def run(start: int) -> tuple[int, int]:
            """Fill the output columns of models [start, start + chunk)."""
            sl = slice(start, min(start + chunk, n_m))
            if route == "score":
                part = ScoreChunk(self.tables, self.frames, th[sl], beta, gradient or hessian)
            else:
                part = CumulantChunk(self._mu, self._k, th[sl], beta)
            if joint_terms is not None:
                joint_terms.apply(part.terms, th[sl])
            res = assemble(self.solver, part.terms, temps, self.reference, self.conventions,
                           self.kinetic)
            for k in keys:
                out[k][:, sl] = res[k]
            if gradient:
                d_star[:, sl] = self.d0 + part.gradient(res["weights"])
                if joint_terms is not None:
                    d_star[:, sl] += joint_terms.gradient(res["weights"])
            if hessian:
                # ∂D*/∂α = Σ_i w′_i U_i; between-shell term −β (∂D*/∂α)(∂D*/∂α)ᵀ/f″ (§7.7)
                dw = res["dweights"]
                vectors = part.shell_vectors()
                if joint_terms is not None:
                    vectors = vectors + joint_terms.shell_vectors()
                dd = np.einsum("tmi,tmik->tmk", dw, vectors)
                between = (beta[:, None] / res["f2"])[..., None, None] * (
                    dd[..., :, None] * dd[..., None, :])
                hess[:, sl] = part.within_hessian(res["weights"]) - between
            return part.n_exact, part.n_linear

        starts = range(0, n_m, chunk)
        n_threads = min(len(starts), threads or available_cores())
        if n_threads > 1:  # chunks are independent; the compiled loops release the GIL
            with ThreadPoolExecutor(n_threads) as pool:
                counts = list(pool.map(run, starts))
        else:
            counts = [run(start) for start in starts]
        n_exact, n_linear = (sum(c) for c in zip(*counts, strict=True))
        info_joint = {}
        if joint is None:
            status = out["status"] | np.where(out["n_clamped"] > 0, CLAMPED, 0)
        else:  # the samples' own terms: their effective size, not the marginals' range
            ess = joint.saddle_ess(out["alpha"], self.alphas, beta)
            status = out["status"] | np.where(ess < ESS_MIN, LOW_SUPPORT, 0)
            info_joint = {"saddle_ess": ess, "ess_min": ESS_MIN}
        b0 = self.reference.beta0 if beta0 is None else np.asarray(beta0, dtype=float)
        if np.ndim(b0) not in (0, 1) or np.size(b0) not in (1, n_m):
            raise EstimatorError(f"beta0 must be a scalar or ({n_m},), got shape {np.shape(b0)}")
        static = b0 + th @ self.d0
        return Prediction(
            temperatures=temps, F_total=static[None, :] + out["F_vib"], F_vib=out["F_vib"],
            sigma_F=out["sigma_F"], alpha_star=out["alpha"],
            T_alpha_star=(self.reference.shell_temperature(out["alpha"], self.conventions)
                          if self.kinetic is None else self.kinetic.temperature(out["alpha"])),
            entropy=out["entropy"], solved=status == 0, status=status,
            n_clamped=out["n_clamped"], conventions=self.conventions_dict(), route=route,
            D_star=d_star, hessian=hess,
            info={"exact_table_pairs": n_exact, "linear_pairs": n_linear,
                  "pairs": n_m * n_a * n_d,
                  "score_degree": str(self.degree),
                  "joint_correction": joint is not None, **info_joint,
                  "alpha_grid": [float(self.alphas[0]), float(self.solver.inner_lo),
                                 float(self.solver.inner_hi), float(self.alphas[-1])],
                  **({} if self.kinetic is None else {"kinetic": self.kinetic.summary()})},
        )

    def solved_range(self, theta, t_lo: float | None = None, t_hi: float | None = None,
                     **kwargs):
        """The solved temperature intervals of each model with the reason at each end
        (:func:`phasetune.estimator.solved.solved_range`; default search: T_α of the lowest
        shell / 2 … of the highest × 2)."""
        from .solved import solved_range

        return solved_range(self, theta, t_lo, t_hi, **kwargs)

    def cumulant(self, theta, temperatures, **kwargs) -> Prediction:  # noqa: D102
        """The second-order cumulant route (method.md §7 'Cumulant route')."""
        return self.predict(theta, temperatures, route="cumulant", **kwargs)

    def conventions_dict(self) -> dict:
        label = ("e^alpha = |y|^2/N (Å^2, per atom)" if self.kinetic is None else
                 "epsilon = omega_bar e^alpha (total energy per atom above E0_ref, eV)")
        return {**self.conventions.as_dict(), "modes_per_atom": self.r,
                "n_atoms": self.reference.n_atoms, "alpha": label,
                **({} if self.kinetic is None else {"shells": "kinetic"})}

    # ------------------------------------------------------------------------------------------
    # systematic indicators (method.md §7.8)

    def alternative(self) -> DDOSEstimator:
        """The same estimator with score degree K + 2 (K − 2 at the maximum), built lazily.

        With the joint correction on, the score degree no longer matters at θ_ref (each shell's
        term there is the samples' exact one), so the alternative also lowers the α smoother's
        degree by one (not below 2): the indicator then measures the saddle's smoothing."""
        if self._alternative is None:
            if self.degree == "auto":
                raise EstimatorError("the degree indicator needs a fixed score degree")
            k = int(self.degree)
            alt = k + 2 if k + 2 <= MAX_DEGREE else k - 2
            settings = dict(self._settings)
            if self.joint_reference is not None:
                settings["smoother_degree"] = max(2, settings["smoother_degree"] - 1)
            self._alternative = DDOSEstimator(self.phase_volume, self.conventions, alt,
                                              ti_anchor=self.ti_anchor, **settings)
            self._alternative.set_joint_reference(self.joint_reference)
        return self._alternative

    def systematics(self, theta, temperatures) -> dict:
        """|F_K − F_{K±2}| and |F_score − F_cumulant| (n_T, n_models), eV/atom."""
        base = self.predict(theta, temperatures)
        alt = self.alternative().predict(theta, temperatures)
        cum = self.cumulant(theta, temperatures)
        return {"degree": np.abs(base.F_total - alt.F_total),
                "cumulant": np.abs(base.F_total - cum.F_total),
                "alternative_degree": self._alternative.degree,
                "alternative_smoother_degree": self._alternative._settings["smoother_degree"]}
